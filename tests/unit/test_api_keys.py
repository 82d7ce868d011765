"""API keys with the file store: format, hashing, verification, rejection, caching, CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import time
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from mcp_server.security.api_keys import open_key_store
from mcp_server.security.api_keys import store as api_keys
from mcp_server.security.api_keys.cache import VerificationCache
from mcp_server.security.api_keys.file_store import FileKeyStore
from mcp_server.security.api_keys.postgres_store import PostgresKeyStore
from mcp_server.security.api_keys.records import KeyRecord
from mcp_server.security.api_keys.store import KeyStore, KeyStoreError, UnknownKeyError
from mcp_server.security.identity import MAX_KEY_LENGTH, Principal, parse_key
from telcopulse import keys_cli
from telcopulse.keys_cli import keys_app
from warehouse.settings import Settings, get_settings

KEY_RE = r"^tp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$"


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "api_keys.jsonl"


@pytest.fixture()
def store(path: Path) -> FileKeyStore:
    return FileKeyStore(path)


@pytest.fixture()
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Spy on hashlib.scrypt (api_keys resolves it at call time); records the salts used."""
    calls: list[bytes] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kwargs: object) -> bytes:
        calls.append(kwargs["salt"])  # type: ignore[arg-type]
        return real(password, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "scrypt", spy)
    return calls


def _swap_secret(key: str) -> str:
    last = "A" if key[-1] != "A" else "B"
    return key[:-1] + last


# ------------------------------------------------------------------ creation and format


def test_create_returns_key_once_and_verifies_with_name_and_role(store: FileKeyStore) -> None:
    key, record = store.create("ci-bot", "analyst")
    assert re.match(KEY_RE, key)
    assert key.split("_")[1] == record.key_id
    assert (record.name, record.role, record.revoked_at, record.expires_at) == (
        "ci-bot",
        "analyst",
        None,
        None,
    )
    assert store.verify(key) == Principal(key_id=record.key_id, name="ci-bot", role="analyst")
    assert store.get(record.key_id) == record
    assert [r.key_id for r in store.list()] == [record.key_id]
    assert isinstance(store, KeyStore)


async def test_averify(store: FileKeyStore) -> None:
    key, record = store.create("agent", "viewer")
    principal = await store.averify(key)
    assert principal is not None and principal.role == "viewer" and principal.key_id == record.key_id
    assert await store.averify(_swap_secret(key)) is None


def test_record_is_salted_scrypt_of_secret(store: FileKeyStore) -> None:
    key, record = store.create("a", "admin")
    secret = key[len("tp_") + 13 :]
    salt = bytes.fromhex(record.salt)
    assert len(salt) == 16
    expected = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    assert record.hash == expected.hex()
    _, other = store.create("b", "admin")
    assert other.salt != record.salt


def test_file_holds_no_plaintext_and_is_private(store: FileKeyStore, path: Path) -> None:
    key, record = store.create("ci-bot", "analyst")
    text = path.read_text()
    secret = key.split("_", 2)[2]
    assert secret not in text and key not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["key_id"] == record.key_id
    assert set(lines[0]) == {
        "key_id",
        "name",
        "role",
        "salt",
        "hash",
        "created_at",
        "revoked_at",
        "expires_at",
        "last_used_at",
    }
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_repr_hides_hash_and_salt(store: FileKeyStore) -> None:
    _, record = store.create("ci-bot", "analyst")
    assert record.hash not in repr(record) and record.salt not in repr(record)


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "tab\there", "x" * 201])
def test_create_rejects_bad_names(store: FileKeyStore, name: str) -> None:
    with pytest.raises(ValueError):
        store.create(name, "analyst")


def test_create_rejects_bad_role_and_past_or_naive_expiry(store: FileKeyStore) -> None:
    with pytest.raises(ValueError):
        store.create("x", "root")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.create("x", "viewer", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with pytest.raises(ValueError):
        store.create("x", "viewer", dt.datetime.now() + dt.timedelta(days=1))
    assert store.list() == []


# ------------------------------------------------------------------ rejection


def test_wrong_secret_and_wrong_key_id_are_rejected(store: FileKeyStore) -> None:
    key, record = store.create("ci-bot", "analyst")
    assert store.verify(_swap_secret(key)) is None
    other_id = "0" * 12 if record.key_id != "0" * 12 else "1" * 12
    assert store.verify(key.replace(record.key_id, other_id)) is None


def test_unknown_key_id_still_costs_one_scrypt(store: FileKeyStore, scrypt_calls: list[bytes]) -> None:
    key, record = store.create("ci-bot", "analyst")
    scrypt_calls.clear()
    other_id = "0" * 12 if record.key_id != "0" * 12 else "1" * 12
    assert store.verify(key.replace(record.key_id, other_id)) is None
    assert len(scrypt_calls) == 1 and scrypt_calls[0] != bytes.fromhex(record.salt)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "tp_",
        "no-prefix",
        "TP_0123456789ab_" + "a" * 43,
        "xx_0123456789ab_" + "a" * 43,
        "0123456789ab_" + "a" * 43,  # no prefix
        "tp_0123456789AB_" + "a" * 43,  # upper-case id
        "tp_0123456789a_" + "a" * 43,  # short id
        "tp__0123456789ab_" + "a" * 43,  # extra underscore
        "tp_0123456789ab__" + "a" * 43,  # extra underscore
        "tp_0123456789ab_" + "a" * 42,  # short secret
        "tp_0123456789ab_" + "a" * 44,
        "tp_0123456789ab_" + "a" * 42 + "=",
        "tp_0123456789ab_" + "a" * 42 + "é",  # non-ascii
        "tp_0123456789ab_" + "a" * 42 + "\n",
        "tp_0123456789ab_" + "a" * 43 + "\n",
        " tp_0123456789ab_" + "a" * 43,
        "tp_0123456789ab_" + "ａ" * 43,  # full-width letters
        "x" * 10_000,
        "tp_0123456789ab_" + "a" * (MAX_KEY_LENGTH + 1),
    ],
)
def test_malformed_keys_are_rejected_without_hashing(
    store: FileKeyStore, scrypt_calls: list[bytes], presented: str
) -> None:
    store.create("ci-bot", "analyst")
    scrypt_calls.clear()
    assert parse_key(presented) is None
    assert store.verify(presented) is None
    assert scrypt_calls == []


@pytest.mark.parametrize("presented", [None, 12, b"tp_0123456789ab_" + b"a" * 43])
def test_non_strings_are_rejected(store: FileKeyStore, presented: object) -> None:
    assert store.verify(presented) is None  # type: ignore[arg-type]


def test_revoked_key_is_rejected(store: FileKeyStore) -> None:
    key, record = store.create("ci-bot", "analyst")
    assert store.verify(key) is not None
    assert store.revoke(record.key_id) is True
    assert store.verify(key) is None
    revoked = store.get(record.key_id)
    assert revoked is not None and revoked.revoked_at is not None
    assert store.revoke(record.key_id) is True  # idempotent, first time kept
    assert store.get(record.key_id) == revoked
    unknown = "0" * 12 if record.key_id != "0" * 12 else "1" * 12
    assert store.revoke(unknown) is False
    assert store.revoke("not-a-key-id") is False


def test_revocation_by_another_store_instance_reaches_a_running_one(path: Path) -> None:
    server, cli = FileKeyStore(path), FileKeyStore(path)
    key, record = cli.create("ci-bot", "analyst")
    assert server.verify(key) is not None
    cli.revoke(record.key_id)
    server.cache.clear()  # stands in for the 30 s cache TTL passing
    assert server.verify(key) is None


def test_expired_key_is_rejected(store: FileKeyStore, path: Path) -> None:
    key, record = store.create("ci-bot", "analyst", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert store.verify(key) is not None
    # Move the expiry into the past by editing the file, as time passing would.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["expires_at"] = past.isoformat()
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    store.cache.clear()
    assert store.verify(key) is None
    assert store.get(record.key_id).is_expired()  # type: ignore[union-attr]


def test_cache_never_outlives_the_key(store: FileKeyStore) -> None:
    key, _ = store.create("ci-bot", "analyst", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    assert store.verify(key) is not None
    (entry,) = store.cache._entries.values()
    assert entry.fresh_until <= entry.usable_until <= time.monotonic() + 5  # the grace too


# ------------------------------------------------------------------ comparison and cache


def test_hashes_are_compared_with_compare_digest(
    store: FileKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, _ = store.create("ci-bot", "analyst")
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    assert store.verify(key) is not None
    assert store.verify(_swap_secret(key)) is None
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)


def test_second_verify_is_served_from_cache(store: FileKeyStore, scrypt_calls: list[bytes]) -> None:
    key, _ = store.create("ci-bot", "analyst")
    scrypt_calls.clear()
    assert store.verify(key) is not None
    assert len(scrypt_calls) == 1
    assert store.verify(key) is not None
    assert len(scrypt_calls) == 1
    # The cache is keyed by a digest, never the key or the secret.
    assert all(key.encode() not in digest and isinstance(digest, bytes) for digest in store.cache._entries)
    assert list(store.cache._entries) == [hashlib.sha256(key.encode()).digest()]


async def test_async_verify_uses_the_cache_too(store: FileKeyStore, scrypt_calls: list[bytes]) -> None:
    key, _ = store.create("ci-bot", "analyst")
    scrypt_calls.clear()
    assert await store.averify(key) is not None
    assert await store.averify(key) is not None
    assert len(scrypt_calls) == 1


def test_failures_are_not_cached(store: FileKeyStore, scrypt_calls: list[bytes]) -> None:
    key, _ = store.create("ci-bot", "analyst")
    scrypt_calls.clear()
    bad = _swap_secret(key)
    assert store.verify(bad) is None
    assert store.verify(bad) is None
    assert len(scrypt_calls) == 2 and len(store.cache) == 0


def test_revocation_clears_the_cache_of_this_process(store: FileKeyStore, scrypt_calls: list[bytes]) -> None:
    key, record = store.create("ci-bot", "analyst")
    keep, _ = store.create("other", "viewer")
    assert store.verify(key) is not None and store.verify(keep) is not None
    assert len(store.cache) == 2
    store.revoke(record.key_id)
    assert len(store.cache) == 1  # only the revoked key's entry is dropped
    scrypt_calls.clear()
    assert store.verify(key) is None
    assert len(scrypt_calls) == 1  # re-checked against the store, not served from cache


def test_cache_is_bounded_and_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = VerificationCache(ttl_s=30, max_entries=3)
    principal = Principal(key_id="0" * 12, name="n", role="viewer")
    clock = [1000.0]
    monkeypatch.setattr(api_keys.time, "monotonic", lambda: clock[0])
    for i in range(5):
        cache.put(bytes([i]), principal)
    assert len(cache) == 3 and cache.get(bytes([0])) is None and cache.get(bytes([4])) == principal
    clock[0] += 30.1
    assert cache.get(bytes([4])) is None
    cache.put(b"x", principal, ttl_s=-1)  # an already-expired key is never cached
    assert cache.get(b"x") is None


# ------------------------------------------------------------------ rotation


def test_rotation_keeps_both_keys_valid_until_revoke(store: FileKeyStore) -> None:
    old_key, old = store.create("ci-bot", "admin", dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    new_key, new = store.rotate(old.key_id)
    assert new.key_id != old.key_id and new_key != old_key
    assert (new.name, new.role) == (old.name, old.role)
    assert new.expires_at is not None and new.expires_at >= old.expires_at  # type: ignore[operator]
    assert store.verify(old_key) is not None and store.verify(new_key) is not None
    store.revoke(old.key_id)
    assert store.verify(old_key) is None
    assert store.verify(new_key) == Principal(key_id=new.key_id, name="ci-bot", role="admin")


def test_rotate_unknown_or_revoked(store: FileKeyStore) -> None:
    with pytest.raises(UnknownKeyError):
        store.rotate("0" * 12)
    _, record = store.create("ci-bot", "viewer")
    store.revoke(record.key_id)
    with pytest.raises(KeyStoreError, match="revoked"):
        store.rotate(record.key_id)


# ------------------------------------------------------------------ file handling


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_group_or_world_readable_file_is_refused(store: FileKeyStore, path: Path, mode: int) -> None:
    key, _ = store.create("ci-bot", "analyst")
    os.chmod(path, mode)
    fresh = FileKeyStore(path)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        fresh.list()
    with pytest.raises(KeyStoreError, match="chmod 600"):
        fresh.verify(key)


def test_missing_file_is_an_empty_store(path: Path) -> None:
    store = FileKeyStore(path)
    assert store.list() == [] and store.get("0" * 12) is None
    assert store.verify("tp_0123456789ab_" + "a" * 43) is None
    assert not path.exists()


def test_damaged_file_is_reported_without_its_content(store: FileKeyStore, path: Path) -> None:
    store.create("ci-bot", "analyst")
    with path.open("a") as handle:
        handle.write('{"key_id": "zz", "hash": "SECRET-LOOKING"}\n')
    with pytest.raises(KeyStoreError, match="line 2") as info:
        FileKeyStore(path).list()
    assert "SECRET-LOOKING" not in str(info.value)


def test_rewrite_is_atomic_and_keeps_mode(store: FileKeyStore, path: Path) -> None:
    _, first = store.create("a", "analyst")
    inode = path.stat().st_ino
    store.create("b", "viewer")
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [r.name for r in store.list()] == ["a", "b"]
    assert KeyRecord.model_validate_json(path.read_text().splitlines()[0]) == first


def test_open_key_store_picks_file_when_configured(path: Path) -> None:
    assert isinstance(open_key_store(Settings(api_keys_file=path, database_url=None)), FileKeyStore)
    pg = open_key_store(Settings(api_keys_file=None, database_url="postgresql://u:pw@h/db"))
    assert isinstance(pg, PostgresKeyStore) and "pw" not in repr(pg)
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        open_key_store(Settings(api_keys_file=None, database_url=None))


def test_logs_carry_key_id_never_the_key(store: FileKeyStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=api_keys.__name__)
    key, record = store.create("ci-bot", "analyst")
    store.verify(key)
    store.verify(_swap_secret(key))
    store.rotate(record.key_id)
    store.revoke(record.key_id)
    store.verify(key)
    secret = key.split("_", 2)[2]
    assert record.key_id in caplog.text
    assert secret not in caplog.text and _swap_secret(key).split("_", 2)[2] not in caplog.text


# ------------------------------------------------------------------ CLI (file store)


@pytest.fixture()
def cli_env(path: Path):
    get_settings.cache_clear()
    yield {"TELCOPULSE_API_KEYS_FILE": str(path), "DATABASE_URL": ""}
    get_settings.cache_clear()


def test_cli_roles_match_the_model() -> None:
    assert get_args(keys_cli.RoleOption) == get_args(api_keys.Role)


def test_cli_create_list_rotate_revoke(cli_env: dict[str, str], path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(keys_app, ["create", "--name", "ci-bot", "--role", "analyst"], env=cli_env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert re.match(KEY_RE, key)
    assert created.output.count(key) == 1
    assert "shown only this once" in created.output
    key_id = key.split("_")[1]

    listed = runner.invoke(keys_app, ["list"], env=cli_env)
    assert listed.exit_code == 0
    assert key_id in listed.output and "ci-bot" in listed.output and "analyst" in listed.output
    record = FileKeyStore(path).get(key_id)
    assert record is not None
    assert key.split("_", 2)[2] not in listed.output and record.hash not in listed.output
    assert record.salt not in listed.output

    rotated = runner.invoke(keys_app, ["rotate", key_id], env=cli_env)
    assert rotated.exit_code == 0, rotated.output
    assert "stays valid until you revoke it" in rotated.output
    new_key = rotated.stdout.strip()
    assert re.match(KEY_RE, new_key) and new_key != key

    revoked = runner.invoke(keys_app, ["revoke", key_id], env=cli_env)
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    store = FileKeyStore(path)
    assert store.verify(key) is None and store.verify(new_key) is not None
    again = runner.invoke(keys_app, ["revoke", key_id], env=cli_env)
    assert again.exit_code == 0 and "already revoked" in again.output


def test_cli_expiry_and_bad_input(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(
        keys_app, ["create", "--name", "tmp", "--role", "viewer", "--expires-days", "7"], env=cli_env
    )
    assert created.exit_code == 0 and "expires" in created.output
    assert runner.invoke(keys_app, ["create", "--name", "x", "--role", "root"], env=cli_env).exit_code != 0
    assert (
        runner.invoke(
            keys_app, ["create", "--name", "x", "--role", "viewer", "--expires-days", "0"], env=cli_env
        ).exit_code
        != 0
    )
    for command in ("revoke", "rotate"):
        unknown = runner.invoke(keys_app, [command, "0123456789ab"], env=cli_env)
        assert unknown.exit_code == 1 and "no API key with id 0123456789ab" in unknown.output
        garbage = runner.invoke(keys_app, [command, "nonsense"], env=cli_env)
        assert garbage.exit_code == 1 and "not a key id" in garbage.output
    full_key = created.stdout.strip()
    pasted = runner.invoke(keys_app, ["revoke", full_key], env=cli_env)
    assert pasted.exit_code == 1 and full_key not in pasted.output


def test_cli_refuses_readable_file(cli_env: dict[str, str], path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(keys_app, ["create", "--name", "a", "--role", "viewer"], env=cli_env).exit_code == 0
    os.chmod(path, 0o644)
    listed = runner.invoke(keys_app, ["list"], env=cli_env)
    assert listed.exit_code == 1 and "chmod 600" in listed.output
