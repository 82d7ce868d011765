"""API-key verification through a key-store outage: stale-while-unavailable, bounded.

The store is a real FileKeyStore whose `get` is made to fail the way an unreachable
PostgreSQL does (an OSError); time is a fake monotonic clock, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from mcp_server.security.api_keys import open_key_store
from mcp_server.security.api_keys import store as api_keys
from mcp_server.security.api_keys.cache import VerificationCache
from mcp_server.security.api_keys.file_store import FileKeyStore
from mcp_server.security.api_keys.postgres_store import STORE_CONNECT_TIMEOUT_S, PostgresKeyStore
from mcp_server.security.api_keys.store import KeyStoreError, KeyStoreUnavailable
from mcp_server.security.auth import ApiKeyMiddleware
from mcp_server.security.identity import Principal
from warehouse.settings import Settings

TTL, GRACE = 30.0, 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(api_keys.time, "monotonic", fake)
    return fake


class Outage:
    """Switches a store's record lookups between working and 'connection refused'."""

    def __init__(self, store: FileKeyStore) -> None:
        self.down = False
        self.calls = 0
        self._get = store.get
        store.get = self.get  # type: ignore[method-assign]

    def get(self, key_id: str) -> Any:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return self._get(key_id)


@pytest.fixture()
def store(tmp_path: Path, clock: Clock) -> FileKeyStore:
    return FileKeyStore(tmp_path / "keys.jsonl", cache_ttl_s=TTL, outage_grace_s=GRACE)


def test_a_verified_key_survives_an_outage_longer_than_the_ttl(store: FileKeyStore, clock: Clock) -> None:
    key, record = store.create("ci-bot", "analyst")
    outage = Outage(store)
    assert store.verify(key) == record.principal
    outage.down = True
    clock.advance(TTL + 1)
    assert store.verify(key) == record.principal  # from memory
    clock.advance(GRACE - TTL - 2)
    assert store.verify(key) == record.principal  # still within the grace of the last check
    clock.advance(2)
    with pytest.raises(KeyStoreUnavailable):  # the grace is bounded
        store.verify(key)


def test_an_unseen_key_during_an_outage_is_unavailable_not_invalid(store: FileKeyStore) -> None:
    key, _ = store.create("ci-bot", "analyst")
    Outage(store).down = True
    with pytest.raises(KeyStoreUnavailable) as raised:
        store.verify(key)
    assert isinstance(raised.value, KeyStoreError)
    assert raised.value.retry_after == api_keys.STORE_RETRY_S
    assert str(raised.value) == (
        "cannot check API keys right now (the key store is unreachable); retry in 5 s"
    )
    # Malformed keys need no store: still a plain "no".
    assert store.verify("tp_nonsense") is None


def test_the_store_rests_after_a_failure_then_is_asked_again(store: FileKeyStore, clock: Clock) -> None:
    key, record = store.create("ci-bot", "analyst")
    outage = Outage(store)
    store.verify(key)
    outage.down = True
    clock.advance(TTL + 1)
    calls = outage.calls
    assert store.verify(key) == record.principal
    assert outage.calls == calls + 1  # one probe...
    for _ in range(10):
        assert store.verify(key) == record.principal
    assert outage.calls == calls + 1  # ...then memory alone while the store rests
    outage.down = False
    clock.advance(api_keys.STORE_RETRY_S)
    assert store.verify(key) == record.principal
    assert outage.calls == calls + 2  # asked again, answered, and fresh again
    assert store.verify(key) == record.principal
    assert outage.calls == calls + 2


def test_a_revocation_wins_once_the_store_answers_and_is_never_served_stale(
    store: FileKeyStore, clock: Clock, tmp_path: Path
) -> None:
    key, record = store.create("ci-bot", "analyst")
    outage = Outage(store)
    store.verify(key)
    outage.down = True
    clock.advance(TTL + 1)
    assert store.verify(key) == record.principal
    # Another process (the CLI) revokes it; the store comes back.
    FileKeyStore(tmp_path / "keys.jsonl").revoke(record.key_id)
    outage.down = False
    clock.advance(api_keys.STORE_RETRY_S)
    assert store.verify(key) is None
    # Gone from memory: a later outage does not resurrect it.
    outage.down = True
    clock.advance(api_keys.STORE_RETRY_S)
    with pytest.raises(KeyStoreUnavailable):
        store.verify(key)


def test_the_grace_never_outlives_the_keys_expiry(store: FileKeyStore, clock: Clock) -> None:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    key, _ = store.create("ci-bot", "analyst", expires)
    outage = Outage(store)
    store.verify(key)
    outage.down = True
    clock.advance(TTL + 1)
    assert store.verify(key) is not None
    clock.advance(120)
    with pytest.raises(KeyStoreUnavailable):
        store.verify(key)


def test_grace_zero_is_the_old_behaviour(tmp_path: Path, clock: Clock) -> None:
    store = FileKeyStore(tmp_path / "keys.jsonl", cache_ttl_s=TTL, outage_grace_s=0)
    key, _ = store.create("ci-bot", "analyst")
    outage = Outage(store)
    store.verify(key)
    outage.down = True
    clock.advance(TTL + 1)
    with pytest.raises(KeyStoreUnavailable):
        store.verify(key)


def test_a_misconfigured_store_is_not_masked_as_an_outage(store: FileKeyStore, tmp_path: Path) -> None:
    key, _ = store.create("ci-bot", "analyst")
    store.verify(key)
    store.cache.clear()
    (tmp_path / "keys.jsonl").chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600") as raised:
        store.verify(key)
    assert not isinstance(raised.value, KeyStoreUnavailable)


def test_averify_behaves_the_same(store: FileKeyStore, clock: Clock) -> None:
    key, record = store.create("ci-bot", "analyst")
    other, _ = store.create("other", "viewer")
    outage = Outage(store)

    async def scenario() -> None:
        assert await store.averify(key) == record.principal
        outage.down = True
        clock.advance(TTL + 1)
        assert await store.averify(key) == record.principal
        with pytest.raises(KeyStoreUnavailable):
            await store.averify(other)

    asyncio.run(scenario())


def test_revoke_purges_memory_even_when_the_store_write_fails(store: FileKeyStore) -> None:
    key, record = store.create("ci-bot", "analyst")
    store.verify(key)

    def refused(key_id: str) -> bool:
        raise ConnectionRefusedError(111, "Connection refused")

    store._mark_revoked = refused  # type: ignore[method-assign]
    with pytest.raises(ConnectionRefusedError):
        store.revoke(record.key_id)
    assert len(store.cache) == 0


def test_cache_fresh_and_stale(clock: Clock) -> None:
    cache = VerificationCache(ttl_s=10, grace_s=100)
    principal = Principal(key_id="0" * 12, name="n", role="viewer")
    cache.put(b"d", principal)
    assert cache.get(b"d") == principal and cache.get_stale(b"d") == principal
    clock.advance(10)
    assert cache.get(b"d") is None and cache.get_stale(b"d") == principal
    clock.advance(90)
    assert cache.get_stale(b"d") is None and len(cache) == 0
    cache.put(b"e", principal, ttl_s=0)
    assert len(cache) == 0
    with pytest.raises(ValueError):
        VerificationCache(ttl_s=10, grace_s=-1)


def test_settings_reach_the_store(tmp_path: Path) -> None:
    settings = Settings(
        api_keys_file=tmp_path / "k.jsonl",
        auth_cache_ttl=2,
        auth_outage_grace=60,
        database_url="postgresql://u@127.0.0.1:1/x",
    )
    store = open_key_store(settings)
    assert (store.cache.ttl_s, store.cache.grace_s) == (2, 60)  # type: ignore[attr-defined]
    defaults = Settings(database_url="postgresql://u@127.0.0.1:1/x", api_keys_file=None)
    pg = open_key_store(defaults)
    assert isinstance(pg, PostgresKeyStore)
    assert (pg.cache.ttl_s, pg.cache.grace_s) == (30, 3600)


def test_postgres_store_connects_with_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    seen: list[dict[str, Any]] = []

    def fake_connect(url: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise psycopg.OperationalError("connection timeout expired")

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    store = PostgresKeyStore("postgresql://u@127.0.0.1:1/x")
    with pytest.raises(KeyStoreUnavailable):
        store.verify("tp_0123456789ab_" + "a" * 43)
    assert seen == [{"autocommit": True, "connect_timeout": STORE_CONNECT_TIMEOUT_S}]
    seen.clear()
    with pytest.raises(psycopg.OperationalError):
        PostgresKeyStore("postgresql://u@127.0.0.1:1/x?connect_timeout=2").get("0123456789ab")
    assert seen == [{"autocommit": True}]  # the URL's own timeout wins


# --------------------------------------------------------------------------- HTTP middleware


async def _asgi_call(verify: Any) -> tuple[int, dict[bytes, bytes], dict[str, Any]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never reached
        raise AssertionError("the request must not reach the app")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/mcp", "headers": [(b"x-api-key", b"tp_0123456789ab_" + b"a" * 43)]}
    await ApiKeyMiddleware(app, verify)(scope, None, send)
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


def test_middleware_answers_503_with_retry_after_for_an_unavailable_store() -> None:
    async def verify(key: str) -> Principal | None:
        raise KeyStoreUnavailable(4.2)

    status, headers, body = asyncio.run(_asgi_call(verify))
    assert status == 503
    assert headers[b"retry-after"] == b"5"
    assert b"www-authenticate" not in headers
    assert body["error"]["data"] == {"error": "Unavailable"}
    assert body["error"]["message"] == (
        "cannot check API keys right now (the key store is unreachable); retry in 5 s"
    )


def test_middleware_answers_503_for_a_broken_store_too() -> None:
    async def verify(key: str) -> Principal | None:
        raise KeyStoreError("API key file x is accessible by group/others")

    status, headers, body = asyncio.run(_asgi_call(verify))
    assert status == 503 and headers[b"retry-after"] == b"5"
    assert body["error"]["message"] == "cannot check API keys right now; retry in 5 s"


def test_concurrent_requests_with_one_key_share_one_verification(store: FileKeyStore, clock: Clock) -> None:
    """A busy key whose cache entry expires costs one scrypt, not one per waiting request."""
    key, record = store.create("ci-bot", "analyst")
    other, other_record = store.create("other", "viewer")
    outage = Outage(store)

    async def scenario() -> None:
        results = await asyncio.gather(*(store.averify(key) for _ in range(50)))
        assert results == [record.principal] * 50
        assert outage.calls == 1
        clock.advance(TTL + 1)  # expired: the next burst verifies again, once
        mixed = await asyncio.gather(*(store.averify(k) for k in [key, other] * 20))
        assert mixed == [record.principal, other_record.principal] * 20
        assert outage.calls == 3
        outage.down = True  # an outage: every waiter gets the one answer (memory), no flood
        clock.advance(TTL + 1)
        assert await asyncio.gather(*(store.averify(key) for _ in range(20))) == [record.principal] * 20
        assert outage.calls == 4

    asyncio.run(scenario())
