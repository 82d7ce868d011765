"""Session store against real Redis and PostgreSQL: layout, expiry, concurrency, archiving.

Redis is shared with other test runs: every session id is a fresh uuid, users are random
`test-<hex>` names, and each test deletes exactly the keys it created (never FLUSHDB).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from cryptography.fernet import Fernet, MultiFernet
from psycopg.conninfo import conninfo_to_dict
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from mcp_server.errors import Forbidden, InputValidationError, NotFound, SessionExpired, Unavailable
from mcp_server.security.crypto import decrypt_json
from mcp_server.sessions.store import (
    PostgresArchiver,
    SessionInfo,
    SessionSnapshot,
    SessionStore,
    load_archived,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

GRACE = 3600
ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
HASH_FIELDS = {
    "session_id",
    "created_at",
    "expires_at",
    "last_accessed",
    "status",
    "data_source",
    "access_level",
    "user_id",
    "metadata",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class TrackingStore(SessionStore):
    """Records every session it creates so the test can delete exactly those keys."""

    def __init__(self, *args: Any, created: list[tuple[str, str | None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._created = created

    async def create(self, **kwargs: Any) -> SessionInfo:
        info = await super().create(**kwargs)
        self._created.append((info.session_id, info.user_id))
        return info


@pytest_asyncio.fixture(loop_scope="session")
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pg_pool(run_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    # The fixture URL is a libpq key=value string, which asyncpg does not parse.
    params = conninfo_to_dict(run_database_url)
    pool = await asyncpg.create_pool(
        host=params.get("host"),
        port=int(params.get("port") or 5432),
        user=params.get("user"),
        password=params.get("password"),
        database=params.get("dbname"),
        min_size=1,
        max_size=4,
    )
    yield pool
    await pool.close()


@pytest.fixture()
def fernet() -> MultiFernet:
    return MultiFernet([Fernet(Fernet.generate_key())])


@pytest_asyncio.fixture(loop_scope="session")
async def make_store(
    redis_url: str, raw: aioredis.Redis, fernet: MultiFernet
) -> AsyncIterator[Callable[..., SessionStore]]:
    created: list[tuple[str, str | None]] = []
    clients: list[aioredis.Redis] = []

    def make(**kwargs: Any) -> SessionStore:
        client = aioredis.Redis.from_url(redis_url)  # bytes replies: the store must cope
        clients.append(client)
        options: dict[str, Any] = {"default_ttl": 300, "max_ttl": 86400, "grace_seconds": GRACE}
        options.update(kwargs)
        key = options.pop("fernet", fernet)
        return TrackingStore(client, key, created=created, **options)

    yield make
    for session_id, user_id in created:
        data_keys = [key async for key in raw.scan_iter(match=f"session:{session_id}:data:*")]
        await raw.delete(f"session:{session_id}", *data_keys)
        await raw.srem(f"session:index:{user_id or 'anonymous'}", session_id)
    for user_id in {user for _, user in created if user}:
        await raw.delete(f"session:index:{user_id}")  # random test-only user names
    for client in clients:
        await client.aclose()


@pytest.fixture()
def user() -> str:
    return f"test-{uuid.uuid4().hex}"


async def metadata_of(raw: aioredis.Redis, session_id: str) -> dict[str, Any]:
    return json.loads(await raw.hget(f"session:{session_id}", "metadata"))


async def archive_rows(pool: asyncpg.Pool, session_id: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM ops.session_archive WHERE session_id = $1", session_id)


# --------------------------------------------------------------------------- layout


async def test_create_writes_the_documented_hash_index_and_ttls(make_store, raw, user) -> None:
    store = make_store()
    extra = {"client": "pytest", "tags": [], "big": 12345678901234567890, "ratio": 0.1}
    info = await store.create(
        data_source="marts", access_level="write", ttl_seconds=120, user_id=user, metadata=extra
    )
    assert re.fullmatch(r"[0-9a-f]{32}", info.session_id)
    fields = await raw.hgetall(f"session:{info.session_id}")
    assert set(fields) == HASH_FIELDS
    assert fields["session_id"] == info.session_id
    assert fields["status"] == "active"
    assert fields["data_source"] == "marts"
    assert fields["access_level"] == "write"
    assert fields["user_id"] == user
    for name in ("created_at", "expires_at", "last_accessed"):
        assert ISO_RE.fullmatch(fields[name]), fields[name]
    assert fields["created_at"] == fields["last_accessed"]
    created = dt.datetime.fromisoformat(fields["created_at"])
    assert dt.datetime.fromisoformat(fields["expires_at"]) - created == dt.timedelta(seconds=120)
    assert fields["metadata"].startswith('{"data_keys":{}')
    assert json.loads(fields["metadata"]) == {"data_keys": {}, "ttl_seconds": 120, **extra}
    assert await raw.sismember(f"session:index:{user}", info.session_id)
    assert 120 + GRACE - 2 <= await raw.ttl(f"session:{info.session_id}") <= 120 + GRACE
    assert await raw.ttl(f"session:index:{user}") >= 120 + GRACE - 2

    assert info.status == "active"
    assert info.user_id == user
    assert info.data_keys == []
    assert info.ttl_seconds == 120
    assert info.metadata == extra


async def test_anonymous_session_is_indexed_under_anonymous(make_store, raw) -> None:
    store = make_store()
    info = await store.create(data_source="marts")
    assert await raw.hget(f"session:{info.session_id}", "user_id") == ""
    assert await raw.hget(f"session:{info.session_id}", "access_level") == "read"
    assert await raw.sismember("session:index:anonymous", info.session_id)
    assert info.user_id is None
    assert info.ttl_seconds == 300  # default_ttl


async def test_values_round_trip_and_are_encrypted_at_rest(make_store, raw, fernet) -> None:
    store = make_store()
    info = await store.create(data_source="marts", access_level="write", ttl_seconds=200)
    marker = "plaintext-marker-7f3a"
    values = {
        "dict": {"who": marker, "n": 3},
        "list": [1, 2.5, marker, None, True],
        "str": marker,
        "int": 42,
        "float": -0.125,
        "none": None,
        "bool": False,
        "unicode": "Zürich ✓",
        "nested.deep:1": {"a": [{"b": {"c": [marker, {}, []]}}]},
    }
    for key, value in values.items():
        written = await store.write(info.session_id, key, value)
        assert key in written.data_keys
    for key, value in values.items():
        assert await store.read(info.session_id, key) == value

    meta = await metadata_of(raw, info.session_id)
    assert meta["data_keys"] == dict.fromkeys(values, True)
    for key, value in values.items():
        stored = await raw.get(f"session:{info.session_id}:data:{key}")
        assert marker not in stored
        assert "Zürich" not in stored
        assert decrypt_json(fernet, stored) == value  # the stored value is the Fernet token
        assert 198 <= await raw.ttl(f"session:{info.session_id}:data:{key}") <= 200

    value, touched = await store.read_with_info(info.session_id, "int")
    assert value == 42 and touched.data_keys == sorted(values) and touched.expires_at >= info.expires_at

    await store.write(info.session_id, "str", "replaced")
    assert await store.read(info.session_id, "str") == "replaced"
    assert (await store.get(info.session_id)).data_keys == sorted(values)


# --------------------------------------------------------------------------- expiry


async def test_sliding_expiry_moves_expires_at_and_every_ttl(make_store, raw) -> None:
    clock = FakeClock()
    store = make_store(clock=clock)
    info = await store.create(data_source="marts", access_level="write", ttl_seconds=1000)
    sid = info.session_id
    await store.write(sid, "a", 1)
    await store.write(sid, "b", 2)
    # Age the Redis keys as if time had passed, then touch: all TTLs must be reset.
    for key in (f"session:{sid}", f"session:{sid}:data:a", f"session:{sid}:data:b"):
        await raw.expire(key, 50)

    clock.advance(600)
    touched = await store.get(sid)
    assert touched.last_accessed == clock.now
    assert touched.expires_at == clock.now + dt.timedelta(seconds=1000)
    assert touched.expires_at > info.expires_at
    stored_expiry = await raw.hget(f"session:{sid}", "expires_at")
    assert stored_expiry == touched.expires_at.isoformat(timespec="microseconds")
    assert 1000 + GRACE - 2 <= await raw.ttl(f"session:{sid}") <= 1000 + GRACE
    for name in ("a", "b"):
        assert 998 <= await raw.ttl(f"session:{sid}:data:{name}") <= 1000

    clock.advance(999)  # still inside the slid window (600 + 1000)
    assert await store.read(sid, "a") == 1

    clock.advance(1000)  # past expires_at
    with pytest.raises(SessionExpired, match=rf"session {sid} expired at .*session_create"):
        await store.read(sid, "a")
    assert await raw.hget(f"session:{sid}", "status") == "expired"
    assert not await raw.exists(f"session:{sid}:data:a", f"session:{sid}:data:b")
    with pytest.raises(SessionExpired):
        await store.write(sid, "c", 3)
    with pytest.raises(SessionExpired):
        await store.get(sid)


async def test_redis_really_expires_data_while_the_hash_answers_expired(make_store, raw) -> None:
    store = make_store()
    info = await store.create(data_source="marts", access_level="write", ttl_seconds=1)
    await store.write(info.session_id, "v", {"x": 1})
    await asyncio.sleep(1.5)
    assert not await raw.exists(f"session:{info.session_id}:data:v")
    assert await raw.exists(f"session:{info.session_id}")
    with pytest.raises(SessionExpired, match="expired at"):
        await store.read(info.session_id, "v")
    assert await raw.hget(f"session:{info.session_id}", "status") == "expired"


async def test_session_gone_after_grace_is_not_found(make_store, raw) -> None:
    store = make_store()
    info = await store.create(data_source="marts")
    await raw.delete(f"session:{info.session_id}")  # what Redis does after ttl + grace
    with pytest.raises(NotFound, match="may have expired more than an hour ago or never existed"):
        await store.get(info.session_id)
    with pytest.raises(NotFound):
        await store.get(uuid.uuid4().hex)


# --------------------------------------------------------------------------- refusals


async def test_read_only_session_refuses_writes(make_store) -> None:
    store = make_store()
    info = await store.create(data_source="marts", access_level="read")
    with pytest.raises(Forbidden, match="is read-only; create one with access_level='write'"):
        await store.write(info.session_id, "k", 1)
    assert (await store.get(info.session_id)).data_keys == []


async def test_missing_key_lists_the_available_keys(make_store) -> None:
    store = make_store()
    info = await store.create(data_source="marts", access_level="write")
    with pytest.raises(NotFound, match="holds no keys yet"):
        await store.read(info.session_id, "nope")
    await store.write(info.session_id, "alpha", 1)
    await store.write(info.session_id, "beta", 2)
    with pytest.raises(NotFound, match="has no key 'nope'; available keys: alpha, beta"):
        await store.read(info.session_id, "nope")


async def test_invalid_arguments_are_validation_errors(make_store) -> None:
    store = make_store(max_value_bytes=1024)
    info = await store.create(data_source="marts", access_level="write")
    sid = info.session_id
    for bad_key in ["", "has space", "x" * 129, "slash/no", "ünï", "new\nline"]:
        with pytest.raises(InputValidationError, match="is invalid"):
            await store.write(sid, bad_key, 1)
        with pytest.raises(InputValidationError):
            await store.read(sid, bad_key)
    await store.write(sid, "k" * 128, "ok")
    with pytest.raises(InputValidationError, match="the limit is 1024 bytes"):
        await store.write(sid, "big", "x" * 2000)
    for not_json in [{1, 2}, float("nan"), b"bytes"]:
        with pytest.raises(InputValidationError, match="not JSON"):
            await store.write(sid, "weird", not_json)
    assert (await store.get(sid)).data_keys == ["k" * 128]

    for bad_ttl in [0, -5, 86401, True, "60", 1.5]:
        with pytest.raises(InputValidationError, match="ttl_seconds"):
            await store.create(data_source="marts", ttl_seconds=bad_ttl)
    for bad_source in ["", "   ", "x" * 201]:
        with pytest.raises(InputValidationError, match="data_source"):
            await store.create(data_source=bad_source)
    with pytest.raises(InputValidationError, match="access_level"):
        await store.create(data_source="marts", access_level="admin")
    with pytest.raises(InputValidationError, match="data_keys"):
        await store.create(data_source="marts", metadata={"data_keys": {}})
    with pytest.raises(InputValidationError, match="malformed"):
        await store.get("session:../../etc")


async def test_key_count_limit(make_store) -> None:
    store = make_store(max_keys=3)
    info = await store.create(data_source="marts", access_level="write")
    for key in ("a", "b", "c"):
        await store.write(info.session_id, key, key)
    with pytest.raises(InputValidationError, match="already holds 3 keys"):
        await store.write(info.session_id, "d", "d")
    await store.write(info.session_id, "a", "overwrite is fine")
    assert await store.read(info.session_id, "a") == "overwrite is fine"


async def test_value_from_an_unconfigured_key_is_unavailable_not_a_crash(make_store) -> None:
    writer = make_store()
    info = await writer.create(data_source="marts", access_level="write")
    await writer.write(info.session_id, "k", [1, 2])
    reader = make_store(fernet=MultiFernet([Fernet(Fernet.generate_key())]))
    with pytest.raises(Unavailable, match="cannot be decrypted"):
        await reader.read(info.session_id, "k")


async def test_unreachable_redis_is_unavailable(fernet) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    store = SessionStore(client, fernet, default_ttl=60, max_ttl=60)
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await store.get(uuid.uuid4().hex)
        with pytest.raises(Unavailable, match="unreachable"):
            await store.create(data_source="marts")
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_writes_from_two_clients_lose_nothing(make_store, raw) -> None:
    first, second = make_store(), make_store()
    # Values cjson would mangle ([] -> {}, rounding) and braces that must not confuse the splice.
    extra = {"tags": [], "big": 12345678901234567890, "ratio": 0.1, "note": 'a}"{b', "data": {"x": []}}
    info = await first.create(data_source="marts", access_level="write", metadata=extra)
    sid = info.session_id

    def key_for(i: int) -> str:
        return f"shared{i % 5}" if i % 2 == 0 else f"own{i}"

    writes = [(first if i % 2 else second).write(sid, key_for(i), {"i": i}) for i in range(50)]
    results = await asyncio.gather(*writes)
    assert all(isinstance(result, SessionInfo) for result in results)

    expected = {key_for(i) for i in range(50)}
    meta = await metadata_of(raw, sid)
    assert set(meta["data_keys"]) == expected
    assert {k: v for k, v in meta.items() if k not in ("data_keys", "ttl_seconds")} == extra
    assert (await first.get(sid)).data_keys == sorted(expected)
    for i in range(50):
        value = await second.read(sid, key_for(i))
        if key_for(i).startswith("own"):
            assert value == {"i": i}
        else:
            assert value["i"] % 5 == int(key_for(i)[-1]) and value["i"] % 2 == 0


# --------------------------------------------------------------------------- close & archive


async def test_close_archives_to_postgres_and_removes_from_redis(
    make_store, raw, pg_pool, fernet, user
) -> None:
    store = make_store(archiver=PostgresArchiver(pg_pool))
    info = await store.create(
        data_source="marts", access_level="write", user_id=user, metadata={"client": "pytest"}
    )
    sid = info.session_id
    values = {"rows": [{"a": 1}, {"a": 2}], "note": "churn by region", "n": 7}
    for key, value in values.items():
        await store.write(sid, key, value)

    closed = await store.close(sid, archive=True)
    assert closed.archived is True and not closed.already_closed
    assert closed.data_keys == sorted(values)

    fields = await raw.hgetall(f"session:{sid}")
    assert fields["status"] == "closed"
    assert fields["last_accessed"] == closed.closed_at.isoformat(timespec="microseconds")
    assert json.loads(fields["metadata"])["data_keys"] == {}
    assert not await raw.exists(*(f"session:{sid}:data:{key}" for key in values))
    assert not await raw.sismember(f"session:index:{user}", sid)
    assert 0 < await raw.ttl(f"session:{sid}") <= GRACE

    assert await archive_rows(pg_pool, sid) == 1
    row = await pg_pool.fetchrow("SELECT * FROM ops.session_archive WHERE session_id = $1", sid)
    assert row["user_id"] == user and row["data_source"] == "marts" and row["access_level"] == "write"
    assert row["created_at"] == info.created_at
    assert "churn by region" not in row["data"]  # still encrypted at rest
    archived = await load_archived(pg_pool, sid, fernet)
    assert archived is not None
    assert archived["data"] == values
    assert archived["metadata"]["client"] == "pytest"
    assert set(archived["metadata"]["data_keys"]) == set(values)
    assert archived["metadata"]["ttl_seconds"] == 300

    for call in (store.get(sid), store.read(sid, "note"), store.write(sid, "x", 1)):
        with pytest.raises(SessionExpired, match=rf"session {sid} was closed at "):
            await call
    again = await store.close(sid, archive=True)
    assert again.already_closed and again.closed_at == closed.closed_at
    assert await archive_rows(pg_pool, sid) == 1
    assert sid not in {s.session_id for s in await store.list_for_user(user)}


async def test_close_without_archive_writes_no_row(make_store, raw, pg_pool) -> None:
    store = make_store()
    info = await store.create(data_source="marts", access_level="write")
    await store.write(info.session_id, "k", 1)
    closed = await store.close(info.session_id, archive=False)
    assert closed.archived is False
    assert await raw.hget(f"session:{info.session_id}", "status") == "closed"
    assert not await raw.exists(f"session:{info.session_id}:data:k")
    assert await archive_rows(pg_pool, info.session_id) == 0
    assert not await raw.sismember("session:index:anonymous", info.session_id)


async def test_failed_archive_reopens_the_session_with_all_data(make_store, raw, pg_pool) -> None:
    attempts: list[SessionSnapshot] = []

    async def broken_archiver(snapshot: SessionSnapshot) -> None:
        attempts.append(snapshot)
        raise OSError("connection to PostgreSQL lost")

    store = make_store()
    info = await store.create(data_source="marts", access_level="write", ttl_seconds=120)
    sid = info.session_id
    await store.write(sid, "a", {"x": 1})
    await store.write(sid, "b", [1, 2, 3])

    with pytest.raises(Unavailable) as error:
        await store.close(sid, archive=True, archiver=broken_archiver)
    assert str(error.value) == (
        f"Unavailable: could not archive session {sid}; nothing was deleted, retry session_close"
    )
    assert "PostgreSQL" not in str(error.value)
    assert set(attempts[0].data) == {"a", "b"}  # the snapshot held every (encrypted) value
    assert await raw.hget(f"session:{sid}", "status") == "active"
    assert await store.read(sid, "a") == {"x": 1}
    assert await store.read(sid, "b") == [1, 2, 3]
    assert 118 <= await raw.ttl(f"session:{sid}:data:a") <= 120  # exact ttl again, not the close hold
    await store.write(sid, "c", "still writable")

    closed = await store.close(sid, archive=True, archiver=PostgresArchiver(pg_pool))
    assert closed.data_keys == ["a", "b", "c"]
    assert await archive_rows(pg_pool, sid) == 1


async def test_redis_failure_in_the_last_step_is_retried_without_duplicates(
    make_store, raw, pg_pool, fernet, user, monkeypatch
) -> None:
    store = make_store(archiver=PostgresArchiver(pg_pool))
    info = await store.create(data_source="marts", access_level="write", user_id=user)
    sid = info.session_id
    await store.write(sid, "k", {"keep": True})

    real_finish = store._finish_close
    failures = iter([True])

    async def flaky_finish(*args: Any) -> list[Any]:
        if next(failures, False):
            raise RedisConnectionError("Connection reset by peer")
        return await real_finish(*args)

    monkeypatch.setattr(store, "_finish_close", flaky_finish)
    with pytest.raises(Unavailable, match="retry session_close"):
        await store.close(sid, archive=True)
    assert await raw.hget(f"session:{sid}", "status") == "closing"
    assert await archive_rows(pg_pool, sid) == 1
    with pytest.raises(SessionExpired, match="is being closed"):
        await store.write(sid, "k", "lost?")
    listed = {s.session_id: s.status for s in await store.list_for_user(user)}
    assert listed[sid] == "closing"

    closed = await store.close(sid, archive=True)
    assert closed.archived is True and closed.data_keys == ["k"]
    assert await raw.hget(f"session:{sid}", "status") == "closed"
    assert not await raw.exists(f"session:{sid}:data:k")
    assert await archive_rows(pg_pool, sid) == 1
    archived = await load_archived(pg_pool, sid, fernet)
    assert archived is not None and archived["data"] == {"k": {"keep": True}}


async def test_session_left_closing_by_a_crash_can_be_closed(make_store, raw, pg_pool, fernet) -> None:
    store = make_store(archiver=PostgresArchiver(pg_pool))
    info = await store.create(data_source="marts", access_level="write")
    await store.write(info.session_id, "k", "v")
    await raw.hset(f"session:{info.session_id}", "status", "closing")  # crashed after step A
    closed = await store.close(info.session_id)
    assert closed.archived is True
    archived = await load_archived(pg_pool, info.session_id, fernet)
    assert archived is not None and archived["data"] == {"k": "v"}


async def test_close_of_an_expired_session_is_refused(make_store, raw) -> None:
    clock = FakeClock()
    store = make_store(clock=clock)
    info = await store.create(data_source="marts", access_level="write", ttl_seconds=10)
    clock.advance(11)
    with pytest.raises(SessionExpired, match="expired at"):
        await store.close(info.session_id, archive=False)
    assert await raw.hget(f"session:{info.session_id}", "status") == "expired"


async def test_archive_requested_without_an_archiver_is_refused(make_store, raw) -> None:
    store = make_store()
    info = await store.create(data_source="marts")
    with pytest.raises(Unavailable, match="archive=false"):
        await store.close(info.session_id, archive=True)
    assert await raw.hget(f"session:{info.session_id}", "status") == "active"


# --------------------------------------------------------------------------- listing


async def test_list_for_user_reports_status_and_prunes_vanished_ids(make_store, raw, user) -> None:
    clock = FakeClock()
    store = make_store(clock=clock)
    short = await store.create(data_source="marts", ttl_seconds=10, user_id=user)
    clock.advance(1)
    long = await store.create(data_source="staging", ttl_seconds=1000, user_id=user)
    clock.advance(1)
    vanished = await store.create(data_source="marts", user_id=user)
    await raw.delete(f"session:{vanished.session_id}")

    clock.advance(20)  # `short` is past its expiry, untouched
    listed = await store.list_for_user(user)
    assert [s.session_id for s in listed] == [long.session_id, short.session_id]  # newest first
    assert [s.status for s in listed] == ["active", "expired"]
    assert await raw.smembers(f"session:index:{user}") == {long.session_id, short.session_id}
    assert await raw.hget(f"session:{short.session_id}", "status") == "active"  # listing writes nothing
    assert listed[0].last_accessed == long.last_accessed  # and does not slide expiry
    assert await store.list_for_user(f"test-{uuid.uuid4().hex}") == []
