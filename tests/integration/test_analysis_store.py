"""The one analysis result store, from both sides, against real PostgreSQL and Redis.

`analyze_data` answers from Dagster's precompute only while the sync adapter (Dagster:
psycopg + redis) and the async one (MCP server: asyncpg + redis.asyncio) agree on every
byte. These tests fail if they could disagree: an entry written by either side is read
back by the other byte for byte from Redis and equal from PostgreSQL (jsonb keeps its own
key order), both refill Redis with the same bytes from a row, and when both write the same
key the first writer wins in both tiers, whoever it is.

Redis is shared with other runs: every data version is a fresh uuid, and each test deletes
the keys it created.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis

from warehouse.analysis_store import (
    ANALYSIS_TTL_SECONDS,
    WAREHOUSE_SOURCE,
    AnalysisEntry,
    AnalysisKey,
    AsyncAnalysisStore,
    SyncAnalysisStore,
    analysis_cache_key,
    decode_entry,
    encode_entry,
)
from warehouse.db import as_url, connect

pytestmark = pytest.mark.integration
on_session_loop = pytest.mark.asyncio(loop_scope="session")  # where the async Redis client lives

PARAMETERS = {"segment_by": ["account_type"], "method": "spearman"}


def _entry(label: str) -> AnalysisEntry:
    # Keys out of jsonb's order and a float, so a tier that re-serialises would show.
    result = {"summary": f"{label} summary", "tables": {"zeta": [1.5, 2], "a": []}, "tests": []}
    return AnalysisEntry.computed_now(result, 42)


def _connections(url: str, role: str | None = None) -> Callable[[], AbstractAsyncContextManager]:
    @asynccontextmanager
    async def connection() -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(as_url(url))
        try:
            if role:
                await conn.execute(f"SET ROLE {role}")
            yield conn
        finally:
            await conn.close()

    return connection


@pytest.fixture()
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def async_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture()
def stores(
    run_database_url: str, redis_url: str, async_redis: aioredis.Redis
) -> tuple[SyncAnalysisStore, AsyncAnalysisStore]:
    # The server's login may only SELECT and INSERT results (migration 0007): write as it.
    return (
        SyncAnalysisStore(run_database_url, redis_url, computed_by="dagster"),
        AsyncAnalysisStore(
            run_database_url,
            async_redis,
            read_connection=_connections(run_database_url, "telcopulse_mcp"),
            write_connection=_connections(run_database_url, "telcopulse_mcp"),
            computed_by="mcp",
        ),
    )


@pytest.fixture()
def key(run_database_url: str, sync_redis: redis.Redis) -> Iterator[AnalysisKey]:
    key = AnalysisKey.of(
        run_database_url, f"v-{uuid.uuid4().hex}", "churn_rate", WAREHOUSE_SOURCE, PARAMETERS
    )
    try:
        yield key
    finally:
        sync_redis.delete(key.cache_key)


def _stored_by(url: str, key: AnalysisKey) -> list[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT computed_by FROM analytics.analysis_results WHERE data_version = %s", (key.data_version,)
        ).fetchall()
    return [r[0] for r in rows]


def test_both_sides_build_the_same_key(stores, run_database_url: str) -> None:
    sync, async_ = stores
    reordered = dict(reversed(PARAMETERS.items()))
    ours, theirs = (
        sync.key("v1", "arpu", "warehouse", PARAMETERS),
        async_.key("v1", "arpu", "warehouse", reordered),
    )
    assert (
        ours.cache_key
        == theirs.cache_key
        == analysis_cache_key(run_database_url, "v1", "arpu", "warehouse", PARAMETERS)
    )
    assert ours.row == theirs.row


async def _round_trip(
    writer: SyncAnalysisStore | AsyncAnalysisStore,
    sync: SyncAnalysisStore,
    async_: AsyncAnalysisStore,
    key: AnalysisKey,
    sync_redis: redis.Redis,
) -> None:
    entry = _entry(type(writer).__name__)
    written = writer.write(key, entry, duration_ms=5)
    assert (await written if isinstance(writer, AsyncAnalysisStore) else written) == entry
    assert sync_redis.get(key.cache_key) == encode_entry(entry).encode()
    assert 3000 < sync_redis.ttl(key.cache_key) <= ANALYSIS_TTL_SECONDS

    # From Redis: the very bytes the writer cached, key order included.
    assert encode_entry(await async_.read(key)) == encode_entry(sync.read(key)) == encode_entry(entry)

    # From PostgreSQL: the same entry, and the same bytes put back into Redis by either side.
    sync_redis.delete(key.cache_key)
    from_row = await async_.read(key)
    assert from_row == entry
    refilled_by_server = sync_redis.get(key.cache_key)
    sync_redis.delete(key.cache_key)
    assert sync.read(key) == from_row
    assert sync_redis.get(key.cache_key) == refilled_by_server == encode_entry(from_row).encode()


@on_session_loop
async def test_a_precomputed_entry_reads_the_same_on_the_server(stores, key, sync_redis) -> None:
    sync, async_ = stores
    await _round_trip(sync, sync, async_, key, sync_redis)


@on_session_loop
async def test_an_on_demand_entry_reads_the_same_in_the_precompute(stores, key, sync_redis) -> None:
    sync, async_ = stores
    await _round_trip(async_, sync, async_, key, sync_redis)


def test_the_time_reads_back_in_utc_whatever_the_session_zone(run_database_url, key) -> None:
    tokyo = f"{as_url(run_database_url)}?options=-c%20TimeZone%3DAsia/Tokyo"
    store = SyncAnalysisStore(tokyo, None, computed_by="dagster")
    assert store.key(key.data_version, key.analysis_type, key.data_source, key.parameters) == key
    entry = _entry("tokyo")
    store.write(key, entry, duration_ms=1)
    assert store.read(key) == entry
    with connect(tokyo) as conn:
        assert conn.execute("SHOW TimeZone").fetchone() == ("Asia/Tokyo",)


@on_session_loop
@pytest.mark.parametrize("first", ["dagster", "mcp"])
async def test_the_first_writer_wins_in_both_tiers(stores, key, sync_redis, run_database_url, first) -> None:
    """A precompute racing an on-demand computation of one key: one INSERT rule on both sides."""
    sync, async_ = stores
    early, late = _entry("early"), _entry("late")
    if first == "dagster":
        sync.write(key, early, duration_ms=1)
        stored = await async_.write(key, late, duration_ms=1)
    else:
        await async_.write(key, early, duration_ms=1)
        stored = sync.write(key, late, duration_ms=1)
    assert stored == early  # the loser is told what is stored ...
    assert _stored_by(run_database_url, key) == [first]
    assert decode_entry(sync_redis.get(key.cache_key)) == early  # ... and caches that, not its own
    sync_redis.delete(key.cache_key)
    assert sync.read(key) == await async_.read(key) == early
