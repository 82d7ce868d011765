"""Query-result cache in Redis, keyed by the data version.

The data version names the last successful mart build and the last raw load, both
recorded in the warehouse by the pipeline. It is part of every cache key, so a refresh
makes every older entry unreachable by construction; nothing has to be deleted. The
version itself is read at most once per `version_ttl` seconds per process: a refresh is
visible a second or two later, which is the price of not asking PostgreSQL per call.
A failed read raises `Unavailable` and keeps nothing, so the next call asks again.
The cache is an optimisation only: if Redis misbehaves, callers go to the database,
and for `retry_after` seconds after a failure they do not wait on Redis at all.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mcp_server.dependencies import LOOKUP_TIMEOUT, REDIS, postgres_connection, redis_outage
from warehouse.analysis_store import DATA_VERSION_SQL


class DataVersion:
    def __init__(self, pool: asyncpg.Pool, *, version_ttl: float = 2.0, acquire_timeout: float = 5.0) -> None:
        self._pool = pool
        self._ttl = version_ttl
        self._acquire_timeout = acquire_timeout
        self._value: str | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[str] | None = None

    async def current(self) -> str:
        """The data version; `Unavailable` (named, with retry advice) when PostgreSQL is down.

        One read at a time: when the value expires under load, every caller waiting for it
        shares the same read and its outcome, instead of each taking a pooled connection
        (200 concurrent calls once queued on the pool every `version_ttl`, seconds at p99).
        """
        if self._value is not None and time.monotonic() - self._read_at <= self._ttl:
            return self._value
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
            self._reading.add_done_callback(self._read_done)
        # Shielded: a caller that is cancelled (its client left) does not cancel the others' read.
        return await asyncio.shield(self._reading)

    async def _read(self) -> str:
        async with postgres_connection(
            self._pool, acquire_timeout=self._acquire_timeout, timeouts_mean_down=True
        ) as conn:
            value = await conn.fetchval(DATA_VERSION_SQL, timeout=LOOKUP_TIMEOUT)
        self._value, self._read_at = str(value), time.monotonic()
        return self._value

    def _read_done(self, reading: asyncio.Future[str]) -> None:
        self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved here too: nobody may be left awaiting it

    def invalidate(self) -> None:
        self._value = None


QUERY_CACHE_PREFIX = "telcopulse:qcache"  # + ":<warehouse id>" per warehouse (mcp_server.context)
LOCAL_TTL_S = 5.0  # how long a replica may answer from its own memory after Redis's answer


class _LocalTier:
    """Results this process stored or fetched recently: a hit costs no Redis round trip.

    Bounded by bytes (the JSON size of each result) and by age (`LOCAL_TTL_S`); least
    recently used entries go first. Keys carry the data version, so a refresh makes
    entries unreachable here exactly as in Redis.
    """

    def __init__(self, max_bytes: int, ttl_s: float = LOCAL_TTL_S) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, dict[str, Any], int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: dict[str, Any], size: int) -> None:
        if size > self.max_bytes // 4:  # one large page must not flush everything else
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + self.ttl_s, value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        _, _, size = self._entries.pop(key)
        self._bytes -= size


class QueryCache:
    """Results in Redis (shared by replicas, `ttl_seconds`), fronted by a small in-process tier.

    The local tier (`local_max_bytes`, 0 turns it off) answers a repeated query without a
    Redis round trip for up to `LOCAL_TTL_S`; `cache_clear` empties it in the process that
    runs it, so other replicas may serve a cleared result for at most that long.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        ttl_seconds: int,
        prefix: str = QUERY_CACHE_PREFIX,
        retry_after: float = 2.0,
        local_max_bytes: int = 0,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._retry_after = retry_after
        self._skip_until = 0.0
        self._local = _LocalTier(local_max_bytes) if local_max_bytes > 0 else None

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    @property
    def pattern(self) -> str:
        """Redis key pattern of every entry of this warehouse (for `cache_clear`)."""
        return f"{self._prefix}:*"

    def key(self, version: str, *parts: object) -> str:
        return ":".join([self._prefix, version, *(str(p) for p in parts)])

    def clear_local(self) -> None:
        if self._local is not None:
            self._local.clear()

    def _usable(self) -> bool:
        return self.enabled and time.monotonic() >= self._skip_until

    def _failed(self, exc: RedisError) -> None:
        REDIS.failed(redis_outage(exc) or type(exc).__name__)
        self._skip_until = time.monotonic() + self._retry_after

    async def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        if self._local is not None and (hit := self._local.get(key)) is not None:
            return hit
        if not self._usable():
            return None
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            self._failed(exc)
            return None
        REDIS.succeeded()
        if raw is None:
            return None
        value = json.loads(raw)
        if self._local is not None:
            self._local.put(key, value, len(raw))
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if not self.enabled:
            return
        raw = json.dumps(value, separators=(",", ":"))
        if self._local is not None:
            self._local.put(key, value, len(raw))
        if not self._usable():
            return
        try:
            await self._redis.set(key, raw, ex=self._ttl)
        except RedisError as exc:
            self._failed(exc)
            return
        REDIS.succeeded()
