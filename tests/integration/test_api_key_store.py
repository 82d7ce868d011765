"""PostgresKeyStore and `telcopulse keys` against a real, freshly migrated database."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from mcp_server.security.api_keys import open_key_store
from mcp_server.security.api_keys import postgres_store as api_keys
from mcp_server.security.api_keys.postgres_store import PostgresKeyStore
from mcp_server.security.api_keys.store import KeyStore, KeyStoreError, UnknownKeyError
from mcp_server.security.identity import Principal
from telcopulse.keys_cli import keys_app
from warehouse.db import as_url, connect
from warehouse.settings import Settings, get_settings

pytestmark = pytest.mark.integration

KEY_RE = re.compile(r"^tp_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


@pytest.fixture()
def store(empty_database_url: str) -> PostgresKeyStore:
    return PostgresKeyStore(empty_database_url)


def _row(url: str, key_id: str) -> dict:
    with connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM ops.api_keys WHERE key_id = %s", (key_id,)).fetchone()


def _other_id(key_id: str) -> str:
    return "0" * 12 if key_id != "0" * 12 else "1" * 12


def test_create_verify_list_get(store: PostgresKeyStore, empty_database_url: str) -> None:
    assert isinstance(store, KeyStore)
    key, record = store.create("ci-bot", "analyst")
    match = KEY_RE.match(key)
    assert match and match.group(1) == record.key_id
    assert record.created_at.tzinfo is not None and record.last_used_at is None
    assert store.verify(key) == Principal(key_id=record.key_id, name="ci-bot", role="analyst")
    assert store.get(record.key_id) == store.list()[0]
    assert store.get(_other_id(record.key_id)) is None and store.get("'; DROP TABLE x; --") is None

    row = _row(empty_database_url, record.key_id)
    secret = key.split("_", 2)[2]
    assert secret not in str(row) and key not in str(row)
    assert row["hash"] == record.hash and len(bytes.fromhex(row["salt"])) == 16


async def test_averify(store: PostgresKeyStore) -> None:
    key, record = store.create("agent", "viewer")
    assert await store.averify(key) == Principal(key_id=record.key_id, name="agent", role="viewer")
    assert await store.averify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert await store.averify(key.replace(record.key_id, _other_id(record.key_id))) is None
    assert await store.averify("tp_nonsense") is None


def test_revoke_is_immediate_here_and_reaches_other_processes(
    store: PostgresKeyStore, empty_database_url: str
) -> None:
    key, record = store.create("ci-bot", "analyst")
    server = PostgresKeyStore(empty_database_url)  # another process, in effect
    assert store.verify(key) is not None and server.verify(key) is not None
    assert store.revoke(record.key_id) is True
    assert store.verify(key) is None
    assert server.verify(key) is not None  # its cache, for up to 30 s
    server.cache.clear()
    assert server.verify(key) is None
    first = store.get(record.key_id).revoked_at  # type: ignore[union-attr]
    assert first is not None
    assert store.revoke(record.key_id) is True
    assert store.get(record.key_id).revoked_at == first  # type: ignore[union-attr]
    assert store.revoke(_other_id(record.key_id)) is False


def test_expired_key_is_rejected(store: PostgresKeyStore, empty_database_url: str) -> None:
    key, record = store.create("tmp", "viewer", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert store.verify(key) is not None
    with connect(empty_database_url) as conn:
        conn.execute(
            "UPDATE ops.api_keys SET expires_at = now() - interval '1 second' WHERE key_id = %s",
            (record.key_id,),
        )
    store.cache.clear()
    assert store.verify(key) is None


def test_rotation_overlaps_until_revoke(store: PostgresKeyStore) -> None:
    old_key, old = store.create("ci-bot", "admin")
    new_key, new = store.rotate(old.key_id)
    assert (new.name, new.role, new.expires_at) == ("ci-bot", "admin", None)
    assert store.verify(old_key) is not None and store.verify(new_key) is not None
    store.revoke(old.key_id)
    assert store.verify(old_key) is None and store.verify(new_key) is not None
    assert [r.key_id for r in store.list()] == [old.key_id, new.key_id]
    with pytest.raises(KeyStoreError):
        store.rotate(old.key_id)
    with pytest.raises(UnknownKeyError):
        store.rotate(_other_id(new.key_id))


def test_last_used_is_written_at_most_once_a_minute(store: PostgresKeyStore, empty_database_url: str) -> None:
    key, record = store.create("ci-bot", "analyst")
    assert store.verify(key) is not None
    first = _row(empty_database_url, record.key_id)["last_used_at"]
    assert first is not None
    store.cache.clear()
    assert store.verify(key) is not None
    assert _row(empty_database_url, record.key_id)["last_used_at"] == first
    with connect(empty_database_url) as conn:
        conn.execute(
            "UPDATE ops.api_keys SET last_used_at = now() - interval '2 minutes' WHERE key_id = %s",
            (record.key_id,),
        )
    store.cache.clear()
    assert store.verify(key) is not None
    assert _row(empty_database_url, record.key_id)["last_used_at"] > first


def test_table_constraints(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO ops.api_keys (key_id, name, role, salt, hash) VALUES (%s, 'x', 'root', %s, %s)",
            ("0" * 12, "0" * 32, "0" * 64),
        )
    with connect(empty_database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO ops.api_keys (key_id, name, role, salt, hash) VALUES ('XYZ', 'x', 'viewer', %s, %s)",
            ("0" * 32, "0" * 64),
        )


def test_query_role_cannot_read_keys(store: PostgresKeyStore, empty_database_url: str) -> None:
    store.create("ci-bot", "analyst")
    with connect(empty_database_url) as conn:
        conn.execute("SET ROLE telcopulse_query")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT hash FROM ops.api_keys")


def test_open_key_store_defaults_to_postgres(empty_database_url: str) -> None:
    settings = Settings(database_url=empty_database_url, api_keys_file=None)
    assert isinstance(open_key_store(settings), api_keys.PostgresKeyStore)


# ------------------------------------------------------------------ CLI


@pytest.fixture()
def cli_env(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.delenv("TELCOPULSE_API_KEYS_FILE", raising=False)
    monkeypatch.delenv("TELCOPULSE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield {"DATABASE_URL": as_url(empty_database_url)}
    get_settings.cache_clear()


def test_cli_against_postgres(cli_env: dict[str, str], empty_database_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(keys_app, ["create", "--name", "ci-bot", "--role", "analyst"], env=cli_env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    match = KEY_RE.match(key)
    assert match, created.stdout
    key_id = match.group(1)
    assert created.output.count(key) == 1 and "shown only this once" in created.output

    store = PostgresKeyStore(empty_database_url)
    assert store.verify(key) == Principal(key_id=key_id, name="ci-bot", role="analyst")
    row = _row(empty_database_url, key_id)

    listed = runner.invoke(keys_app, ["list"], env=cli_env)
    assert listed.exit_code == 0, listed.output
    assert key_id in listed.output and "ci-bot" in listed.output and "LAST USED" in listed.output
    for secret_ish in (key, key.split("_", 2)[2], row["hash"], row["salt"]):
        assert secret_ish not in listed.output

    rotated = runner.invoke(keys_app, ["rotate", key_id], env=cli_env)
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert KEY_RE.match(new_key) and new_key != key
    assert f"old key {key_id} stays valid until you revoke it" in rotated.output
    assert store.verify(new_key) is not None

    revoked = runner.invoke(keys_app, ["revoke", key_id], env=cli_env)
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    store.cache.clear()
    assert store.verify(key) is None and store.verify(new_key) is not None

    unknown = runner.invoke(keys_app, ["revoke", _other_id(key_id)], env=cli_env)
    assert unknown.exit_code == 1 and "no API key with id" in unknown.output
    unknown = runner.invoke(keys_app, ["rotate", _other_id(key_id)], env=cli_env)
    assert unknown.exit_code == 1 and "no API key with id" in unknown.output
