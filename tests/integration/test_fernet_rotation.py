"""Fernet key rotation of session data against real Redis and a migrated PostgreSQL.

Redis is shared with other tests (and other runs), so every session id here starts with a
prefix unique to the test and rotations are narrowed to it with `match`; the CLI, which
scans everything, runs against a Redis database of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from typer.testing import CliRunner

from mcp_server.security import fernet_rotation
from mcp_server.security.fernet_rotation import rotate_archive, rotate_session_data
from telcopulse.keys_cli import keys_app
from warehouse.db import connect
from warehouse.settings import get_settings

pytestmark = pytest.mark.integration

OLD_KEY = Fernet.generate_key()
NEW_KEY = Fernet.generate_key()
STRANGER_KEY = Fernet.generate_key()  # configured nowhere
OLD, NEW, STRANGER = Fernet(OLD_KEY), Fernet(NEW_KEY), Fernet(STRANGER_KEY)
ROTATING = MultiFernet([NEW, OLD])
CLI_REDIS_DB = 13  # the CLI scans a whole database: give it one nobody else uses


def _token(fernet: Fernet, value: object) -> bytes:
    return fernet.encrypt(json.dumps(value).encode())


def _plain(fernet: Fernet, token: bytes | str) -> object:
    return json.loads(fernet.decrypt(token))


def _delete_matching(client: redis.Redis, pattern: str) -> None:
    keys = list(client.scan_iter(match=pattern, count=500))
    if keys:
        client.delete(*keys)


class Sessions:
    """Session data keys written by one test, all under one unique id prefix."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.prefix = uuid.uuid4().hex[:8]
        self.match = f"session:{self.prefix}*:data:*"

    def new_id(self) -> str:
        return self.prefix + uuid.uuid4().hex[:24]

    def put(self, name: str, token: bytes, ttl: int, session_id: str | None = None) -> str:
        key = f"session:{session_id or self.new_id()}:data:{name}"
        self.client.set(key, token, ex=ttl)
        return key


@pytest.fixture()
def sessions(redis_url: str) -> Iterator[Sessions]:
    client = redis.Redis.from_url(redis_url)
    made = Sessions(client)
    try:
        yield made
    finally:
        _delete_matching(client, f"session:{made.prefix}*")
        client.close()


def _insert_archive(url: str, session_id: str, data: dict[str, str]) -> None:
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO ops.session_archive (session_id, data_source, access_level, created_at, data)"
            " VALUES (%s, 'marts', 'write', now(), %s::jsonb)",
            (session_id, json.dumps(data)),
        )


def _archive(url: str) -> dict[str, dict[str, str]]:
    with connect(url) as conn:
        return dict(conn.execute("SELECT session_id, data FROM ops.session_archive").fetchall())


def test_redis_values_move_to_the_new_key_keeping_ttl_and_plaintext(sessions: Sessions) -> None:
    client = sessions.client
    expected: dict[str, object] = {}
    sid = sessions.new_id()
    for number, ttl in enumerate((600, 3600, 86_400)):
        value = {"rows": [number, "x" * number], "n": number}
        expected[sessions.put(f"page.{number}", _token(OLD, value), ttl, sid)] = value
    other = sessions.new_id()
    expected[sessions.put("model", _token(OLD, [1.5, None]), 7200, other)] = [1.5, None]
    # Matches the glob but is not a data key of store.py (session ids are 32 hex): untouched.
    odd = f"session:{sessions.prefix}zz:data:x"
    client.set(odd, b"not a token", ex=60)
    ttls = {key: client.pttl(key) for key in expected}

    report = rotate_session_data(client, ROTATING, match=sessions.match)

    assert (report.rotated, report.skipped, report.failed, report.failed_keys) == (4, 0, 0, [])
    for key, value in expected.items():
        token = client.get(key)
        assert _plain(NEW, token) == value
        with pytest.raises(InvalidToken):
            OLD.decrypt(token)
        assert abs(client.pttl(key) - ttls[key]) <= 1000
    assert client.get(odd) == b"not a token"

    before = {key: client.get(key) for key in expected}
    again = rotate_session_data(client, ROTATING, match=sessions.match)
    assert (again.rotated, again.skipped, again.failed) == (4, 0, 0)
    for key, value in expected.items():
        token = client.get(key)
        assert token != before[key]  # re-encrypted (fresh IV), harmlessly
        assert _plain(NEW, token) == value
        assert abs(client.pttl(key) - ttls[key]) <= 1000


def test_a_value_under_an_unknown_key_fails_and_is_left_untouched(sessions: Sessions) -> None:
    client = sessions.client
    good = sessions.put("good", _token(OLD, "fine"), 900)
    foreign_token = _token(STRANGER, {"secret": "plaintext-123"})
    foreign = sessions.put("foreign", foreign_token, 900)
    garbage = sessions.put("garbage", b"definitely-not-fernet", 900)
    ttl = client.pttl(foreign)

    report = rotate_session_data(client, ROTATING, match=sessions.match)

    assert (report.rotated, report.skipped, report.failed) == (1, 0, 2)
    assert sorted(report.failed_keys) == sorted([foreign, garbage])
    assert foreign_token.decode() not in repr(report) and "plaintext-123" not in repr(report)
    assert client.get(foreign) == foreign_token and client.get(garbage) == b"definitely-not-fernet"
    assert abs(client.pttl(foreign) - ttl) <= 1000
    assert _plain(NEW, client.get(good)) == "fine"


def test_a_value_rewritten_or_deleted_meanwhile_is_never_clobbered(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sessions.client
    rewritten = sessions.put("rewritten", _token(OLD, "old value"), 900)
    deleted = sessions.put("deleted", _token(OLD, "gone soon"), 900)
    real = fernet_rotation._rotated
    interfered: set[str] = set()

    def racing(fernet: MultiFernet, token: bytes | str) -> bytes | None:
        """A server acts between the rotation's read and its compare-and-set, once per key."""
        plain = _plain(ROTATING, token)
        if plain == "old value" and rewritten not in interfered:
            interfered.add(rewritten)
            client.set(rewritten, _token(OLD, "newer value"), keepttl=True)
        if plain == "gone soon" and deleted not in interfered:
            interfered.add(deleted)
            client.delete(deleted)
        return real(fernet, token)

    monkeypatch.setattr(fernet_rotation, "_rotated", racing)
    report = rotate_session_data(client, ROTATING, match=sessions.match)

    assert (report.rotated, report.skipped, report.failed) == (1, 1, 0)
    assert _plain(NEW, client.get(rewritten)) == "newer value"  # the server's write survived
    assert client.exists(deleted) == 0  # not resurrected
    assert 0 < client.ttl(rewritten) <= 900


def test_archive_values_move_to_the_new_key(empty_database_url: str) -> None:
    url = empty_database_url
    expected: dict[str, dict[str, object]] = {}
    for number in range(5):  # batch_size=2: three batches, the last one short
        data = {f"k{i}": {"v": [number, i]} for i in range(number % 3)}
        expected[f"s{number}"] = data
        _insert_archive(url, f"s{number}", {k: _token(OLD, v).decode() for k, v in data.items()})
    foreign_token = _token(STRANGER, "x").decode()
    _insert_archive(url, "s9", {"bad": foreign_token, "ok": _token(OLD, 42).decode()})
    expected_values = sum(len(data) for data in expected.values()) + 1

    failed: list[str] = []
    assert rotate_archive(url, ROTATING, failed=failed, batch_size=2) == expected_values
    assert failed == ["s9/bad"]
    rows = _archive(url)
    for session_id, data in expected.items():
        assert {k: _plain(NEW, token) for k, token in rows[session_id].items()} == data
    assert rows["s9"]["bad"] == foreign_token and _plain(NEW, rows["s9"]["ok"]) == 42

    assert rotate_archive(url, ROTATING) == expected_values  # second run: harmless
    assert {k: _plain(NEW, t) for k, t in _archive(url)["s1"].items()} == expected["s1"]


@pytest.fixture()
def cli_redis(redis_url: str) -> Iterator[tuple[str, redis.Redis, str]]:
    parts = urlsplit(redis_url)
    url = urlunsplit(parts._replace(path=f"/{CLI_REDIS_DB}"))
    client = redis.Redis.from_url(url)
    prefix = uuid.uuid4().hex[:8]
    try:
        yield url, client, prefix
    finally:
        _delete_matching(client, f"session:{prefix}*")
        client.close()


@pytest.fixture()
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_rotates_everything_and_reports_counts(
    cli_redis: tuple[str, redis.Redis, str],
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_settings: None,
) -> None:
    url, client, prefix = cli_redis
    keys = [f"session:{prefix}{uuid.uuid4().hex[:24]}:data:k{i}" for i in range(3)]
    for key in keys:
        client.set(key, _token(OLD, key), ex=1200)
    _insert_archive(empty_database_url, "archived", {"a": _token(OLD, "A").decode()})
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("TELCOPULSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELCOPULSE_FERNET_KEYS", f"{NEW_KEY.decode()},{OLD_KEY.decode()}")
    runner = CliRunner()

    result = runner.invoke(keys_app, ["rotate-fernet"])

    assert result.exit_code == 0, result.output
    assert "redis: 3 rotated, 0 skipped" in result.output and "0 failed" in result.output
    assert "archive: 1 rotated, 0 failed" in result.output
    for key in keys:
        assert _plain(NEW, client.get(key)) == key and 1190 <= client.ttl(key) <= 1200
    assert _plain(NEW, _archive(empty_database_url)["archived"]["a"]) == "A"

    # A value under a key nobody has: listed by name (never its token), exit status 2.
    foreign_token = _token(STRANGER, "?")
    foreign = f"session:{prefix}{uuid.uuid4().hex[:24]}:data:lost"
    client.set(foreign, foreign_token, ex=600)
    result = runner.invoke(keys_app, ["rotate-fernet"])
    assert result.exit_code == 2, result.output
    assert "redis: 3 rotated, 0 skipped (expired or deleted meanwhile), 1 failed" in result.output
    assert foreign in result.output and foreign_token.decode() not in result.output
    assert client.get(foreign) == foreign_token


def test_cli_refuses_with_a_single_key_or_none(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # never reached
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("TELCOPULSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELCOPULSE_FERNET_KEYS", NEW_KEY.decode())
    runner = CliRunner()

    result = runner.invoke(keys_app, ["rotate-fernet"])
    assert result.exit_code == 1
    assert "nothing to rotate to; put the new key first" in result.output
    assert NEW_KEY.decode() not in result.output

    monkeypatch.delenv("TELCOPULSE_FERNET_KEYS")
    get_settings.cache_clear()
    result = runner.invoke(keys_app, ["rotate-fernet"])
    assert result.exit_code == 1 and "no Fernet keys are configured" in result.output
    assert not (tmp_path / "fernet.key").exists()  # a rotation never invents a key


def test_new_fernet_key_prints_a_usable_key() -> None:
    result = CliRunner().invoke(keys_app, ["new-fernet-key"])
    assert result.exit_code == 0
    key = result.output.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
