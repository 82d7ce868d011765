"""`telcopulse keys ...`: manage the API keys of the MCP HTTP server.

The store is the one the server reads (TELCOPULSE_API_KEYS_FILE, else ops.api_keys in
DATABASE_URL). A key is printed once, on stdout alone, so `KEY=$(telcopulse keys create
...)` captures exactly the key; everything else goes to stderr. Heavy imports happen
inside the commands so `--help` stays instant.

`new-fernet-key` and `rotate-fernet` manage the other secret the server holds: the Fernet
keys that encrypt session data at rest (see mcp_server/security/fernet_rotation.py).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

# The one definition of the roles, from the dependency-free module (not from
# mcp_server.security.identity, which pulls in pydantic), so `--help` stays instant.
from warehouse.caller_roles import Role as RoleOption

if TYPE_CHECKING:
    from mcp_server.security.api_keys.records import KeyRecord
    from mcp_server.security.api_keys.store import KeyStore

keys_app = typer.Typer(
    help="Create, list, revoke and rotate API keys for the MCP HTTP server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold keys or URLs with passwords
)

STORE_WARNING = (
    "Store this key now (e.g. in a secret manager): it is shown only this once and cannot be "
    "recovered, only a salted hash is kept. Clients send it as `X-API-Key: <key>` or "
    "`Authorization: Bearer <key>`."
)
CACHE_NOTE = (
    "Server processes that verified it in the last 30 s may still accept it for up to 30 s "
    "(their verification cache)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _open_store() -> KeyStore:
    """The configured store; for PostgreSQL the schema is migrated first so the table exists."""
    from mcp_server.security.api_keys import open_key_store
    from mcp_server.security.api_keys.store import KeyStoreError
    from warehouse.settings import get_settings

    settings = get_settings()
    try:
        if settings.api_keys_file is None:
            from warehouse.migrate import migrate

            migrate(settings.require_database_url())
        return open_key_store(settings)
    except (KeyStoreError, RuntimeError) as exc:
        raise _fail(str(exc)) from None


def _checked_key_id(key_id: str) -> str:
    """Refuse anything that is not a key id without echoing it: a pasted full key must not
    land in terminal scrollback or CI logs a second time."""
    from mcp_server.security.identity import KEY_ID_HEX_CHARS, KEY_PREFIX, is_key_id

    if is_key_id(key_id):
        return key_id
    if key_id.startswith(KEY_PREFIX):
        raise _fail(
            f"pass the key id (the {KEY_ID_HEX_CHARS} hex characters after `{KEY_PREFIX}`), not the whole key"
        )
    raise _fail(
        f"not a key id: expected {KEY_ID_HEX_CHARS} lowercase hexadecimal characters "
        "(see `telcopulse keys list`)"
    )


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _announce(plaintext: str, record: KeyRecord) -> None:
    expires = f", expires {_when(record.expires_at)}" if record.expires_at else ", never expires"
    typer.echo(
        f"Created API key {record.key_id} (name {record.name!r}, role {record.role}{expires}).", err=True
    )
    typer.echo(plaintext)
    typer.echo(STORE_WARNING, err=True)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key (shown in logs/lists).")],
    role: Annotated[RoleOption, typer.Option("--role", help="Permissions of the key.")],
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, help="Expire after this many days (default: never)."),
    ] = None,
) -> None:
    """Create a key and print it once."""
    from mcp_server.security.api_keys.store import KeyStoreError

    store = _open_store()
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days) if expires_days else None
    try:
        plaintext, record = store.create(name, role, expires_at)
    except (ValueError, KeyStoreError) as exc:
        raise _fail(str(exc)) from None
    _announce(plaintext, record)


@keys_app.command("list")
def list_keys() -> None:
    """Show every key's metadata (never secrets or hashes)."""
    from mcp_server.security.api_keys.store import KeyStoreError

    try:
        records = _open_store().list()
    except KeyStoreError as exc:
        raise _fail(str(exc)) from None
    if not records:
        typer.echo("no API keys; create one with: telcopulse keys create --name NAME --role analyst")
        return
    now = dt.datetime.now(dt.UTC)
    header = ("KEY_ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LAST USED")
    rows = [
        (
            r.key_id,
            r.name,
            r.role,
            _when(r.created_at),
            _when(r.expires_at) + (" (expired)" if r.is_expired(now) else ""),
            _when(r.revoked_at),
            _when(r.last_used_at),
        )
        for r in records
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="Id of the key (see `keys list`).")]) -> None:
    """Revoke a key; it stops working at once here and within 30 s in running servers."""
    from mcp_server.security.api_keys.store import KeyStoreError

    key_id = _checked_key_id(key_id)
    store = _open_store()
    try:
        before = store.get(key_id)
        if before is None or not store.revoke(key_id):
            raise _fail(f"no API key with id {key_id}")
    except KeyStoreError as exc:
        raise _fail(str(exc)) from None
    if before.revoked_at is not None:
        typer.echo(f"API key {key_id} ({before.name}) was already revoked at {_when(before.revoked_at)}.")
        return
    typer.echo(f"Revoked API key {key_id} ({before.name}). {CACHE_NOTE}")


@keys_app.command("rotate")
def rotate(key_id: Annotated[str, typer.Argument(help="Id of the key to replace.")]) -> None:
    """Issue a successor with the same name and role; the old key keeps working until revoked."""
    from mcp_server.security.api_keys.store import KeyStoreError, UnknownKeyError

    key_id = _checked_key_id(key_id)
    store = _open_store()
    try:
        plaintext, record = store.rotate(key_id)
    except UnknownKeyError:
        raise _fail(f"no API key with id {key_id}") from None
    except (ValueError, KeyStoreError) as exc:
        raise _fail(str(exc)) from None
    _announce(plaintext, record)
    typer.echo(
        f"The old key {key_id} stays valid until you revoke it, once clients use the new one: "
        f"telcopulse keys revoke {key_id}",
        err=True,
    )


@keys_app.command("new-fernet-key")
def new_fernet_key() -> None:
    """Print a freshly generated Fernet key for session data (for TELCOPULSE_FERNET_KEYS)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode("ascii"))


_FAILED_SHOWN = 20


@keys_app.command("rotate-fernet")
def rotate_fernet() -> None:
    """Re-encrypt all session data (Redis and the PostgreSQL archive) under the newest Fernet key.

    (1) Generate a new key: `telcopulse keys new-fernet-key`.
    (2) On every server set TELCOPULSE_FERNET_KEYS="NEW,OLD" (or prepend NEW as the first line of the key file) and restart: servers then write with NEW and still read OLD.
    (3) Run this command with the same keys, REDIS_URL and DATABASE_URL (safe to re-run).
    (4) Once it reports 0 failed, drop OLD from every server's keys.

    Exit status 0: done, 0 failed. 1: refused or could not run. 2: done, but some values decrypt with no configured key; they are listed by key name and left untouched.
    """  # noqa: E501
    import psycopg
    import redis

    from mcp_server.security.fernet_rotation import (
        RotationError,
        load_rotation_keys,
        rotate_archive,
        rotate_session_data,
    )
    from warehouse.settings import get_settings

    settings = get_settings()
    try:
        fernet, key_count = load_rotation_keys(settings)
    except (RotationError, RuntimeError, OSError) as exc:
        raise _fail(str(exc)) from None
    if key_count < 2:
        raise _fail(
            "only one Fernet key is configured: nothing to rotate to; put the new key first "
            '(TELCOPULSE_FERNET_KEYS="NEW,OLD", see `telcopulse keys new-fernet-key`)'
        )
    if not settings.redis_url:
        raise _fail("REDIS_URL is not set; it must point at the Redis the servers keep sessions in")
    try:
        database_url = settings.require_database_url()
    except RuntimeError as exc:
        raise _fail(str(exc)) from None

    try:
        client = redis.Redis.from_url(settings.redis_url)
        try:
            report = rotate_session_data(client, fernet)
        finally:
            client.close()
    except redis.RedisError as exc:
        raise _fail(f"Redis: {type(exc).__name__}: {exc}") from None
    typer.echo(
        f"redis: {report.rotated} rotated, {report.skipped} skipped (expired or deleted meanwhile), "
        f"{report.failed} failed"
    )

    archive_failed: list[str] = []
    try:
        archived = rotate_archive(database_url, fernet, failed=archive_failed)
    except psycopg.errors.UndefinedTable:
        raise _fail("ops.session_archive does not exist; run `telcopulse migrate` first") from None
    except psycopg.Error as exc:
        raise _fail(f"PostgreSQL: {type(exc).__name__}: {exc}") from None
    typer.echo(f"archive: {archived} rotated, {len(archive_failed)} failed")

    failures = report.failed_keys + [f"ops.session_archive {name}" for name in archive_failed]
    if not failures:
        typer.echo("0 failed: every session value is now encrypted with the first key; the others can go.")
        return
    typer.echo(
        f"{len(failures)} value(s) cannot be decrypted with any configured key (left untouched):", err=True
    )
    for name in failures[:_FAILED_SHOWN]:
        typer.echo(f"  {name}", err=True)
    if len(failures) > _FAILED_SHOWN:
        typer.echo(f"  ... and {len(failures) - _FAILED_SHOWN} more (see the log)", err=True)
    raise typer.Exit(2)
