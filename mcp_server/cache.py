"""Query-result cache in Redis, keyed by the data version.

The data version names the last successful mart build and the last raw load, both
recorded in the warehouse by the pipeline. It is part of every cache key, so a refresh
makes every older entry unreachable by construction; nothing has to be deleted. The
version itself is read at most once per `version_ttl` seconds per process: a refresh is
visible a second or two later, which is the price of not asking PostgreSQL per call.
The cache is an optimisation only: if Redis misbehaves, callers go to the database.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from warehouse.analysis_store import DATA_VERSION_SQL

logger = logging.getLogger(__name__)


class DataVersion:
    def __init__(self, pool: asyncpg.Pool, *, version_ttl: float = 2.0) -> None:
        self._pool = pool
        self._ttl = version_ttl
        self._value: str | None = None
        self._read_at = 0.0

    async def current(self) -> str:
        now = time.monotonic()
        if self._value is None or now - self._read_at > self._ttl:
            self._value = str(await self._pool.fetchval(DATA_VERSION_SQL))
            self._read_at = now
        return self._value

    def invalidate(self) -> None:
        self._value = None


class QueryCache:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int, prefix: str = "telcopulse:qcache") -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._prefix = prefix

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def key(self, version: str, *parts: object) -> str:
        return ":".join([self._prefix, version, *(str(p) for p in parts)])

    async def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            logger.warning("query cache read skipped: %s", type(exc).__name__)
            return None
        return None if raw is None else json.loads(raw)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            await self._redis.set(key, json.dumps(value, separators=(",", ":")), ex=self._ttl)
        except RedisError as exc:
            logger.warning("query cache write skipped: %s", type(exc).__name__)
