"""The in-process tier of the query cache: hits without Redis, bounded, short-lived (issue 13)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from mcp_server import cache as cache_module
from mcp_server.cache import QueryCache

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture()
def prefix() -> str:
    return f"test-qcache-{uuid.uuid4().hex}"


async def test_a_stored_result_is_answered_from_memory(redis, prefix) -> None:
    cache = QueryCache(redis, ttl_seconds=60, prefix=prefix, local_max_bytes=1 << 20)
    key = cache.key("v1", "default", "abc", 0, 10)
    await cache.put(key, {"rows": [{"n": 1}]})
    assert await redis.get(key) is not None  # shared with other replicas
    await redis.delete(key)  # Redis no longer has it...
    assert await cache.get(key) == {"rows": [{"n": 1}]}  # ...this process still does
    cache.clear_local()
    assert await cache.get(key) is None


async def test_a_redis_hit_is_kept_locally_and_lapses(redis, prefix, monkeypatch) -> None:
    writer = QueryCache(redis, ttl_seconds=60, prefix=prefix)  # another replica, no local tier
    reader = QueryCache(redis, ttl_seconds=60, prefix=prefix, local_max_bytes=1 << 20)
    key = writer.key("v1", "default", "abc", 0, 10)
    await writer.put(key, {"rows": [1, 2]})
    assert await reader.get(key) == {"rows": [1, 2]}  # from Redis, now kept
    await redis.delete(key)
    assert await reader.get(key) == {"rows": [1, 2]}
    now = cache_module.time.monotonic()
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now + cache_module.LOCAL_TTL_S + 1)
    assert await reader.get(key) is None  # lapsed: asks Redis, which has nothing


async def test_the_local_tier_is_bounded_by_bytes(redis, prefix) -> None:
    cache = QueryCache(redis, ttl_seconds=60, prefix=prefix, local_max_bytes=4_000)
    keys = [cache.key("v1", "default", f"q{i}", 0, 10) for i in range(10)]
    for key in keys:
        await cache.put(key, {"rows": ["x" * 900]})  # ~910 bytes each
    await redis.delete(*keys)
    kept = [key for key in keys if await cache.get(key) is not None]
    assert kept == keys[-4:]  # the most recent ones that fit in 4,000 bytes


async def test_the_cache_off_means_no_local_copies_either(redis, prefix) -> None:
    cache = QueryCache(redis, ttl_seconds=0, prefix=prefix, local_max_bytes=1 << 20)
    key = cache.key("v1", "default", "abc", 0, 10)
    await cache.put(key, {"rows": []})
    assert await cache.get(key) is None
    assert await redis.get(key) is None
