"""Where analysis results live: one store for the Dagster precompute and the MCP server.

The README promises that `analyze_data` answers the standard questions from what Dagster
precomputed. That holds only while both sides agree on every byte: the key, the JSON of the
Redis value and its TTL, the row in `analytics.analysis_results`, and what happens when both
write the same key. So all of it is defined here, once: `AnalysisEntry` and its encoding,
`AnalysisKey`, one INSERT and one SELECT (in PostgreSQL's own `$n` placeholders, which both
drivers take, so not even the SQL text is written twice), and the tiered read (Redis, then
PostgreSQL, refilling Redis) and write (PostgreSQL, then Redis). The two adapters only move
bytes: `SyncAnalysisStore` (psycopg + redis, the Dagster precompute) and `AsyncAnalysisStore`
(asyncpg + redis.asyncio over the server's own pool and Redis).

A result is keyed by the data version (last mart build + last raw load): a refresh changes
the version, so a stale result can never be served, and nothing needs deleting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import redis
from redis.exceptions import RedisError

from warehouse.db import connect, warehouse_id

if TYPE_CHECKING:  # the drivers are imported by whoever opens the connections
    import asyncpg
    import redis.asyncio as aioredis

ANALYSIS_TTL_SECONDS = 3600
ANALYSIS_CACHE_PREFIX = "telcopulse:analysis"
# The data_source of the standard inputs (`analysis_inputs.standard_inputs`): the one source
# the precompute fills, so it is part of the key both sides build.
WAREHOUSE_SOURCE = "warehouse"

DATA_VERSION_SQL = """
SELECT coalesce(
           (SELECT build_id FROM ops.data_builds ORDER BY finished_at DESC, build_id DESC LIMIT 1), 'none')
       || ':' || coalesce((SELECT max(load_id) FROM ops.raw_loads)::text, '0')
"""

INSERT_RESULT_SQL = """
INSERT INTO analytics.analysis_results
    (data_version, analysis_type, data_source, params_hash, parameters, result, row_count, duration_ms,
     computed_by, computed_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10)
ON CONFLICT (data_version, analysis_type, data_source, params_hash) DO NOTHING
RETURNING 1
"""
"""The one write, for both sides; the first writer of a key wins, whoever it is.

Why DO NOTHING rather than DO UPDATE, when a precompute races an on-demand computation of
the same key: the key holds the data version, so both ran the same analysis with the same
parameters on the same rows, and either answer is right; replacing one gains nothing. It
would cost: (1) the server's login may not UPDATE this table (migration 0007 grants SELECT
and INSERT only, least privilege), so an upsert would fail there; (2) an answer already
served, with its `computed_at`, would change under the same key, and two agents asking the
same question of the same data could be handed different answers; (3) the
two writes of each side (PostgreSQL, then Redis) interleave, so last-writer-wins in
PostgreSQL need not be last-writer-wins in Redis, and the tiers would disagree. The loser
reads the stored row back and caches that instead (`RETURNING` says who won), so Redis only
ever holds what PostgreSQL holds. The price: re-running the precompute on an unchanged data
version (say, after upgrading the analysis code) keeps the stored result until the next build.
"""

SELECT_RESULT_SQL = """
SELECT result::text AS result, row_count, computed_at FROM analytics.analysis_results
WHERE data_version = $1 AND analysis_type = $2 AND data_source = $3 AND params_hash = $4
"""


def params_hash(parameters: dict[str, Any]) -> str:
    """Order-insensitive hash of the parameters (the same question asked in another order)."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def analysis_cache_pattern(database_url: str) -> str:
    """Redis key pattern of every cached analysis of one warehouse (for `cache_clear`)."""
    return f"{ANALYSIS_CACHE_PREFIX}:{warehouse_id(database_url)}:*"


def analysis_cache_key(
    database_url: str, data_version: str, analysis_type: str, data_source: str, parameters: dict[str, Any]
) -> str:
    return AnalysisKey.of(database_url, data_version, analysis_type, data_source, parameters).cache_key


@dataclass(frozen=True)
class AnalysisKey:
    """One question asked of one warehouse at one data version.

    The warehouse is held as its id, not its URL, so a key can be logged or shown without
    credentials; two warehouses sharing a Redis still get distinct keys.
    """

    warehouse: str
    data_version: str
    analysis_type: str
    data_source: str
    parameters: dict[str, Any]

    @classmethod
    def of(
        cls,
        database_url: str,
        data_version: str,
        analysis_type: str,
        data_source: str,
        parameters: dict[str, Any],
    ) -> AnalysisKey:
        return cls(warehouse_id(database_url), data_version, analysis_type, data_source, dict(parameters))

    @property
    def cache_key(self) -> str:
        """The Redis key; `analysis_cache_pattern` matches it."""
        parts = [self.warehouse, self.data_version, self.analysis_type, self.data_source, self.params_hash]
        return ":".join([ANALYSIS_CACHE_PREFIX, *parts])

    @property
    def params_hash(self) -> str:
        return params_hash(self.parameters)

    @property
    def row(self) -> tuple[str, str, str, str]:
        """The primary key of `analytics.analysis_results` ($1..$4 of both statements)."""
        return (self.data_version, self.analysis_type, self.data_source, self.params_hash)


@dataclass(frozen=True)
class AnalysisEntry:
    """A stored result, as the Redis value and the PostgreSQL row both carry it."""

    result: dict[str, Any]
    row_count: int
    computed_at: str  # ISO 8601, UTC

    @classmethod
    def computed_now(cls, result: dict[str, Any], row_count: int) -> AnalysisEntry:
        return cls(result, row_count, dt.datetime.now(dt.UTC).isoformat())


def encode_entry(entry: AnalysisEntry) -> str:
    """The Redis value (this field order and JSON are what every cached entry has been)."""
    value = {"result": entry.result, "row_count": entry.row_count, "computed_at": entry.computed_at}
    return json.dumps(value)


def decode_entry(raw: str | bytes) -> AnalysisEntry:
    value = json.loads(raw)
    return AnalysisEntry(value["result"], value["row_count"], value["computed_at"])


def decode_row(result: str, row_count: int, computed_at: dt.datetime) -> AnalysisEntry:
    """An entry from a `SELECT_RESULT_SQL` row, whichever driver read it.

    `result` comes back as text (the SELECT casts it), since psycopg would parse jsonb and
    asyncpg would not; the time is made UTC, since psycopg answers in the session's zone.
    jsonb keeps its own key order, so an entry refilled from a row equals the one first
    cached without being byte-identical to it; either side refills the same bytes.
    """
    return AnalysisEntry(json.loads(result), row_count, computed_at.astimezone(dt.UTC).isoformat())


RedisErrorHandler = Callable[[RedisError], None]


def _raise(exc: RedisError) -> None:
    raise exc


class _Store:
    """What the two adapters share besides the SQL and the encoding: whose store it is."""

    def __init__(self, database_url: str, *, computed_by: str, on_redis_error: RedisErrorHandler) -> None:
        self._database_url = database_url
        self._computed_by = computed_by
        self._on_redis_error = on_redis_error

    def key(
        self, data_version: str, analysis_type: str, data_source: str, parameters: dict[str, Any]
    ) -> AnalysisKey:
        return AnalysisKey.of(self._database_url, data_version, analysis_type, data_source, parameters)

    def _insert_args(self, key: AnalysisKey, entry: AnalysisEntry, duration_ms: int) -> tuple[Any, ...]:
        """$1..$10 of `INSERT_RESULT_SQL`; `computed_at` is the entry's, so both tiers carry one time."""
        return (
            *key.row,
            json.dumps(key.parameters, default=str),
            json.dumps(entry.result),
            entry.row_count,
            duration_ms,
            self._computed_by,
            dt.datetime.fromisoformat(entry.computed_at),
        )


class AsyncAnalysisStore(_Store):
    """The store over asyncpg and redis.asyncio (the MCP server).

    Connections come from the caller's factories, so its pool, timeouts and error mapping
    apply (the server maps outages to `Unavailable`). A Redis failure goes to
    `on_redis_error`: by default it is raised; the server counts it and goes on, since
    PostgreSQL holds every result too.
    """

    def __init__(
        self,
        database_url: str,
        redis: aioredis.Redis,
        *,
        read_connection: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
        write_connection: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
        computed_by: str,
        on_redis_error: RedisErrorHandler = _raise,
    ) -> None:
        super().__init__(database_url, computed_by=computed_by, on_redis_error=on_redis_error)
        self._redis = redis
        self._read_connection = read_connection
        self._write_connection = write_connection

    async def read(self, key: AnalysisKey) -> AnalysisEntry | None:
        """Redis, else PostgreSQL (and the entry goes back into Redis); None if never stored."""
        entry, _tier = await self.read_from(key)
        return entry

    async def read_from(self, key: AnalysisKey) -> tuple[AnalysisEntry | None, str | None]:
        """`read`, and which tier answered: "redis", "postgres", or None when nothing is stored."""
        try:
            raw = await self._redis.get(key.cache_key)
        except RedisError as exc:
            self._on_redis_error(exc)
            raw = None
        if raw is not None:
            return decode_entry(raw), "redis"
        async with self._read_connection() as conn:
            row = await conn.fetchrow(SELECT_RESULT_SQL, *key.row)
        if row is None:
            return None, None
        entry = decode_row(*row)
        await self._cache(key, entry)
        return entry, "postgres"

    async def write(self, key: AnalysisKey, entry: AnalysisEntry, *, duration_ms: int) -> AnalysisEntry:
        """Store `entry` unless the key is taken; returns what is stored (and cached)."""
        args = self._insert_args(key, entry, duration_ms)
        async with self._write_connection() as conn:
            if await conn.fetchrow(INSERT_RESULT_SQL, *args) is None:
                row = await conn.fetchrow(SELECT_RESULT_SQL, *key.row)
                entry = decode_row(*row) if row is not None else entry
        await self._cache(key, entry)
        return entry

    async def _cache(self, key: AnalysisKey, entry: AnalysisEntry) -> None:
        try:
            await self._redis.set(key.cache_key, encode_entry(entry), ex=ANALYSIS_TTL_SECONDS)
        except RedisError as exc:
            self._on_redis_error(exc)


class SyncAnalysisStore(_Store):
    """The store over psycopg and redis (the Dagster precompute).

    Opens a connection per call, as a Dagster step is short and runs once per build; no
    Redis URL means PostgreSQL only (`caches` is False). A Redis failure goes to
    `on_redis_error`, raised by default, so the asset fails instead of leaving the MCP
    server without the cache it expects.
    """

    def __init__(
        self,
        database_url: str,
        redis_url: str | None,
        *,
        computed_by: str,
        on_redis_error: RedisErrorHandler = _raise,
    ) -> None:
        super().__init__(database_url, computed_by=computed_by, on_redis_error=on_redis_error)
        self._redis_url = redis_url or None

    @property
    def caches(self) -> bool:
        return self._redis_url is not None

    def read(self, key: AnalysisKey) -> AnalysisEntry | None:
        """Redis, else PostgreSQL (and the entry goes back into Redis); None if never stored."""
        with self._redis() as client:
            raw = None
            if client is not None:
                try:
                    raw = client.get(key.cache_key)
                except RedisError as exc:
                    self._on_redis_error(exc)
            if raw is not None:
                return decode_entry(raw)
            with connect(self._database_url) as conn, psycopg.RawCursor(conn) as cursor:
                row = cursor.execute(SELECT_RESULT_SQL, key.row).fetchone()
            if row is None:
                return None
            entry = decode_row(*row)
            self._cache(client, key, entry)
            return entry

    def write(self, key: AnalysisKey, entry: AnalysisEntry, *, duration_ms: int) -> AnalysisEntry:
        """Store `entry` unless the key is taken; returns what is stored (and cached)."""
        args = self._insert_args(key, entry, duration_ms)
        with connect(self._database_url) as conn, psycopg.RawCursor(conn) as cursor:
            if cursor.execute(INSERT_RESULT_SQL, args).fetchone() is None:
                row = cursor.execute(SELECT_RESULT_SQL, key.row).fetchone()
                entry = decode_row(*row) if row is not None else entry
            conn.commit()
        with self._redis() as client:
            self._cache(client, key, entry)
        return entry

    @contextmanager
    def _redis(self) -> Iterator[redis.Redis | None]:
        if self._redis_url is None:
            yield None
            return
        client = redis.Redis.from_url(self._redis_url)
        try:
            yield client
        finally:
            client.close()

    def _cache(self, client: redis.Redis | None, key: AnalysisKey, entry: AnalysisEntry) -> None:
        if client is None:
            return
        try:
            client.set(key.cache_key, encode_entry(entry), ex=ANALYSIS_TTL_SECONDS)
        except RedisError as exc:
            self._on_redis_error(exc)
