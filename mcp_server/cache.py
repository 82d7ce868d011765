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


class QueryCache:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        ttl_seconds: int,
        prefix: str = "telcopulse:qcache",
        retry_after: float = 2.0,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._retry_after = retry_after
        self._skip_until = 0.0

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def key(self, version: str, *parts: object) -> str:
        return ":".join([self._prefix, version, *(str(p) for p in parts)])

    def _usable(self) -> bool:
        return self.enabled and time.monotonic() >= self._skip_until

    def _failed(self, exc: RedisError) -> None:
        REDIS.failed(redis_outage(exc) or type(exc).__name__)
        self._skip_until = time.monotonic() + self._retry_after

    async def get(self, key: str) -> dict[str, Any] | None:
        if not self._usable():
            return None
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            self._failed(exc)
            return None
        REDIS.succeeded()
        return None if raw is None else json.loads(raw)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if not self._usable():
            return
        try:
            await self._redis.set(key, json.dumps(value, separators=(",", ":")), ex=self._ttl)
        except RedisError as exc:
            self._failed(exc)
            return
        REDIS.succeeded()
