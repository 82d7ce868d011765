"""Rate limiter against real Redis: exact bursts, recovery, sharing across replicas, outages.

Redis is shared with other test runs: every test uses its own random key prefix and
deletes exactly the keys under it afterwards (never FLUSHDB). Windows are either long
(nothing refills during the test) or 2 s with short waits, to keep the file fast.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mcp_server.errors import Unavailable
from mcp_server.security.rate_limit import RateDecision, RateLimiter, retry_message

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

LIMITS = {"admin": 600, "analyst": 120, "viewer": 60}


@pytest.fixture()
def prefix() -> str:
    return f"test-ratelimit-{uuid.uuid4().hex}"


@pytest_asyncio.fixture(loop_scope="session")
async def raw(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def make_limiter(
    redis_url: str, prefix: str, raw: aioredis.Redis
) -> AsyncIterator[Callable[..., RateLimiter]]:
    """Each limiter gets its own client, as a separate server replica would."""
    clients: list[aioredis.Redis] = []

    def make(**kwargs: Any) -> RateLimiter:
        client = aioredis.Redis.from_url(redis_url)  # bytes replies: the limiter must cope
        clients.append(client)
        options: dict[str, Any] = {"limits_per_minute": LIMITS, "prefix": prefix}
        options.update(kwargs)
        return RateLimiter(client, **options)

    yield make
    for client in clients:
        await client.aclose()


def identity() -> str:
    return f"key-{uuid.uuid4().hex[:12]}"


def unreachable_client() -> aioredis.Redis:
    return aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


# --------------------------------------------------------------------------- bursts


async def test_allows_exactly_the_limit_then_refuses(make_limiter, raw, prefix) -> None:
    limiter = make_limiter(limits_per_minute={"viewer": 5})
    who = identity()
    decisions = [await limiter.check(who, "viewer") for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    assert all(d.limit == 5 and d.retry_after == 0 for d in decisions)

    refused = await limiter.check(who, "viewer")
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.limit == 5
    # One unit refills every 60/5 = 12 s; the burst took well under a second.
    assert 11 < refused.retry_after <= 12
    assert 59 < refused.reset_after <= 60
    assert "retry after" in retry_message(refused)

    # The state is one integer (µs) key that expires by itself when the bucket is full.
    assert [key async for key in raw.scan_iter(match=f"{prefix}:*")] == [f"{prefix}:{who}"]
    assert re.fullmatch(r"\d{16,}", await raw.get(f"{prefix}:{who}"))
    assert 59_000 < await raw.pttl(f"{prefix}:{who}") <= 60_000


async def test_refused_calls_spend_nothing(make_limiter) -> None:
    limiter = make_limiter(limits_per_minute={"viewer": 3})
    who = identity()
    for _ in range(3):
        assert (await limiter.check(who, "viewer")).allowed
    first = await limiter.check(who, "viewer")
    for _ in range(20):
        again = await limiter.check(who, "viewer")
        assert not again.allowed
    assert again.retry_after <= first.retry_after  # hammering does not push recovery away


async def test_cost_spends_several_units(make_limiter) -> None:
    limiter = make_limiter(limits_per_minute={"analyst": 10})
    who = identity()
    assert (await limiter.check(who, "analyst", cost=4)).remaining == 6
    assert (await limiter.check(who, "analyst", cost=6)).remaining == 0
    refused = await limiter.check(who, "analyst", cost=2)
    assert not refused.allowed and 0 < refused.retry_after <= 12

    too_big = await limiter.check(identity(), "analyst", cost=11)
    assert not too_big.allowed and math.isinf(too_big.retry_after)
    assert "do not retry" in retry_message(too_big)
    with pytest.raises(ValueError, match="cost"):
        await limiter.check(who, "analyst", cost=0)
    with pytest.raises(ValueError, match="identity"):
        await limiter.check("", "analyst")


# --------------------------------------------------------------------------- recovery


async def test_recovers_after_retry_after_and_refills_fully_after_reset_after(make_limiter) -> None:
    limiter = make_limiter(limits_per_minute={"viewer": 4}, window_seconds=2)
    who = identity()
    for _ in range(4):
        assert (await limiter.check(who, "viewer")).allowed
    refused = await limiter.check(who, "viewer")
    assert not refused.allowed
    assert 0 < refused.retry_after <= 0.5  # one unit per 2/4 s

    await asyncio.sleep(refused.retry_after)
    recovered = await limiter.check(who, "viewer")
    assert recovered.allowed
    assert recovered.remaining == 0
    assert not (await limiter.check(who, "viewer")).allowed  # only one unit came back

    await asyncio.sleep(recovered.reset_after)
    full = await limiter.check(who, "viewer")
    assert full.allowed and full.remaining == 3


# --------------------------------------------------------------------------- replicas


async def test_two_replicas_interleaving_share_one_budget(make_limiter) -> None:
    first, second = make_limiter(), make_limiter()
    who = identity()
    decisions = [await (first if i % 2 else second).check(who, "viewer") for i in range(70)]
    assert sum(d.allowed for d in decisions) == 60
    assert all(d.allowed for d in decisions[:60])
    assert [d.remaining for d in decisions[:60]] == list(range(59, -1, -1))


async def test_concurrent_checks_across_replicas_allow_exactly_the_limit(make_limiter) -> None:
    first, second = (
        make_limiter(limits_per_minute={"analyst": 20}),
        make_limiter(limits_per_minute={"analyst": 20}),
    )
    who = identity()
    decisions = await asyncio.gather(*((first, second)[i % 2].check(who, "analyst") for i in range(50)))
    allowed = [d for d in decisions if d.allowed]
    assert len(allowed) == 20
    # Every allowed call saw a distinct remaining count: no two spent the same unit.
    assert sorted(d.remaining for d in allowed) == list(range(20))
    assert all(d.remaining == 0 and d.retry_after > 0 for d in decisions if not d.allowed)


# --------------------------------------------------------------------------- roles, identities


async def test_per_role_limits_and_unknown_role_gets_the_smallest(make_limiter) -> None:
    limiter = make_limiter()
    for role, limit in [("admin", 600), ("analyst", 120), ("viewer", 60), ("intern", 60), ("", 60)]:
        first = await limiter.check(identity(), role)
        assert first.allowed and first.limit == limit and first.remaining == limit - 1
    who = identity()
    results = [await limiter.check(who, "who-knows") for _ in range(61)]
    assert sum(d.allowed for d in results) == 60


async def test_limit_zero_always_refuses_without_touching_redis(make_limiter, raw, prefix) -> None:
    limiter = make_limiter(limits_per_minute={"admin": 600, "suspended": 0})
    who = identity()
    for _ in range(3):
        decision = await limiter.check(who, "suspended")
        assert not decision.allowed and decision.limit == 0 and decision.remaining == 0
        assert math.isinf(decision.retry_after)
    assert await raw.exists(f"{prefix}:{who}") == 0
    assert "may not make calls" in retry_message(decision)
    # A limit of 0 is the smallest, so unknown roles are blocked too.
    assert not (await limiter.check(identity(), "unknown")).allowed


async def test_identities_are_isolated(make_limiter) -> None:
    limiter = make_limiter(limits_per_minute={"viewer": 3})
    noisy, quiet = identity(), identity()
    for _ in range(10):
        await limiter.check(noisy, "viewer")
    assert not (await limiter.check(noisy, "viewer")).allowed
    fresh = await limiter.check(quiet, "viewer")
    assert fresh.allowed and fresh.remaining == 2
    assert (await limiter.check(f"stdio:{quiet}", "viewer")).remaining == 2


async def test_prefixes_are_isolated(make_limiter, raw) -> None:
    who = identity()
    other_prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    try:
        a = make_limiter(limits_per_minute={"viewer": 2})
        b = make_limiter(limits_per_minute={"viewer": 2}, prefix=other_prefix)
        for _ in range(2):
            assert (await a.check(who, "viewer")).allowed
        assert (await b.check(who, "viewer")).allowed
    finally:
        await raw.delete(f"{other_prefix}:{who}")


async def test_configuration_is_validated() -> None:
    client = unreachable_client()  # never used: construction does not talk to Redis
    try:
        with pytest.raises(ValueError, match="at least one role"):
            RateLimiter(client, limits_per_minute={})
        with pytest.raises(ValueError, match="viewer"):
            RateLimiter(client, limits_per_minute={"viewer": -1})
        with pytest.raises(ValueError, match="window_seconds"):
            RateLimiter(client, limits_per_minute={"viewer": 1}, window_seconds=0)
    finally:
        await client.aclose()


async def test_retry_message_wording() -> None:
    decision = RateDecision(False, 120, 0, 2.41, 60.0, role="analyst")
    assert retry_message(decision) == (
        "rate limit of 120 calls/min for role analyst reached; retry after 2.5 s"
    )
    short = RateDecision(False, 4, 0, 0.5, 2.0, role="viewer", window_seconds=2)
    assert retry_message(short) == "rate limit of 4 calls per 2 s for role viewer reached; retry after 0.5 s"


# --------------------------------------------------------------------------- outages


async def test_a_small_connection_pool_queues_instead_of_failing_open(redis_url, prefix, raw) -> None:
    client = aioredis.Redis.from_url(redis_url, max_connections=3)
    try:
        limiter = RateLimiter(client, limits_per_minute={"analyst": 20}, prefix=prefix, fail_open=True)
        decisions = await asyncio.gather(*(limiter.check("pool-key", "analyst") for _ in range(50)))
        assert sum(d.allowed for d in decisions) == 20
    finally:
        await client.aclose()


async def test_exhausted_pool_is_busy_not_unmetered(redis_url, prefix) -> None:
    client = aioredis.Redis.from_url(redis_url, max_connections=1)
    held = await client.connection_pool.get_connection()
    try:
        limiter = RateLimiter(
            client, limits_per_minute=LIMITS, prefix=prefix, fail_open=True, pool_wait_seconds=0.1
        )
        started = time.perf_counter()
        with pytest.raises(Unavailable, match="busy"):
            await limiter.check(identity(), "viewer")
        assert 0.05 < time.perf_counter() - started < 1
    finally:
        await client.connection_pool.release(held)
        await client.aclose()


async def test_fail_open_lets_calls_through_and_warns_once(caplog) -> None:
    client = unreachable_client()
    limiter = RateLimiter(client, limits_per_minute=LIMITS, fail_open=True)
    try:
        with caplog.at_level(logging.WARNING, logger="mcp_server.security.rate_limit"):
            decisions = [await limiter.check(identity(), "analyst") for _ in range(3)]
        # Each fresh identity spent one unit of its (local) budget.
        assert all(d.allowed and d.limit == 120 and d.remaining == 119 for d in decisions)
        assert limiter.degraded
        warnings = [r for r in caplog.records if "per process" in r.getMessage()]
        assert len(warnings) == 1  # throttled: an outage does not flood the log
    finally:
        await client.aclose()


async def test_fail_open_still_limits_each_key_in_process() -> None:
    """Redis down is not a licence to flood: the same GCRA runs locally, per replica."""
    client = unreachable_client()
    limiter = RateLimiter(client, limits_per_minute={"viewer": 5}, fail_open=True)
    try:
        who = identity()
        decisions = [await limiter.check(who, "viewer") for _ in range(6)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False]
        assert decisions[4].remaining == 0
        refused = decisions[5]
        assert 0 < refused.retry_after <= 60 / 5 + 0.01
        assert retry_message(refused).startswith("rate limit of 5 calls/min for role viewer reached")
        assert (await limiter.check(identity(), "viewer")).allowed  # other keys have their own budget
        with pytest.raises(ValueError):
            await limiter.check(who, "viewer", cost=0)
        assert math.isinf((await limiter.check(identity(), "viewer", cost=6)).retry_after)
    finally:
        await client.aclose()


async def test_a_hung_redis_costs_at_most_the_timeout(make_limiter) -> None:
    """A Redis that accepts connections and never answers must not stall every call."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts (kernel backlog), never replies
    port = listener.getsockname()[1]
    client = aioredis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    try:
        limiter = RateLimiter(client, limits_per_minute=LIMITS, timeout_seconds=0.3)
        decision = await asyncio.wait_for(limiter.check(identity(), "analyst"), timeout=30)
        assert decision.allowed and limiter.degraded
        # While Redis rests, decisions are local and immediate.
        assert (await asyncio.wait_for(limiter.check(identity(), "analyst"), timeout=30)).allowed
    finally:
        await client.aclose()
        listener.close()


async def test_back_to_redis_after_an_outage(make_limiter, monkeypatch) -> None:
    from mcp_server.security import rate_limit

    monkeypatch.setattr(rate_limit, "REDIS_RETRY_S", 0.0)
    limiter = make_limiter()
    working = limiter._script
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise rate_limit.RedisError("connection refused")
        return await working(*args, **kwargs)

    limiter._script = flaky
    who = identity()
    assert (await limiter.check(who, "viewer")).allowed and limiter.degraded
    decision = await limiter.check(who, "viewer")
    assert decision.allowed and not limiter.degraded and len(limiter.local) == 0
    assert decision.remaining == 59  # the shared budget, untouched by the local decision


async def test_fail_closed_is_unavailable() -> None:
    client = unreachable_client()
    limiter = RateLimiter(client, limits_per_minute=LIMITS, fail_open=False)
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await limiter.check(identity(), "analyst")
        # A blocked role is decided locally and still answers plainly.
        blocked = RateLimiter(client, limits_per_minute={"x": 0}, fail_open=False)
        assert not (await blocked.check(identity(), "x")).allowed
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- leases


def _count_redis_calls(limiter: RateLimiter) -> list[int]:
    """Record the `most` units of every script call the limiter makes."""
    asked: list[int] = []
    run = limiter._run

    async def counted(key: str, interval: int, period: int, cost: int, most: int | None = None) -> list[int]:
        asked.append(most or cost)
        return await run(key, interval, period, cost, most)

    limiter._run = counted  # type: ignore[method-assign]
    return asked


async def test_leases_keep_the_exact_burst_with_a_fraction_of_the_round_trips(make_limiter) -> None:
    limiter = make_limiter(lease_max=16)
    asked = _count_redis_calls(limiter)
    who = identity()
    decisions = [await limiter.check(who, "admin") for _ in range(600)]
    assert all(d.allowed for d in decisions)
    assert not (await limiter.check(who, "admin")).allowed  # exactly the limit, as without leases
    assert max(asked) == 16  # capped by lease_max (5 % of 600 would be 30)
    assert len(asked) < 600 / 10  # one round trip per up to 16 calls, after a short ramp
    assert decisions[0].remaining == 599 and decisions[-1].remaining == 0


async def test_leases_never_take_more_than_five_percent_of_a_limit(make_limiter) -> None:
    limiter = make_limiter(lease_max=16)
    asked = _count_redis_calls(limiter)
    who = identity()
    for _ in range(40):
        assert (await limiter.check(who, "viewer")).allowed
    assert max(asked) == 3  # 5 % of 60


async def test_replicas_with_leases_never_allow_more_than_the_limit(make_limiter) -> None:
    replicas = [make_limiter(lease_max=16), make_limiter(lease_max=16)]
    who = identity()

    async def hammer(limiter: RateLimiter) -> int:
        allowed = 0
        for _ in range(150):
            allowed += (await limiter.check(who, "analyst")).allowed
            await asyncio.sleep(0)
        return allowed

    counts = await asyncio.gather(*(hammer(r) for r in replicas))
    # Never more than the limit; at most one lease per replica (5 % of 120 = 6) left unspent.
    assert 120 - 2 * 6 <= sum(counts) <= 120


async def test_unused_leased_units_lapse_and_the_next_lease_is_smaller(make_limiter, monkeypatch) -> None:
    monkeypatch.setattr("mcp_server.security.rate_limit.LEASE_TTL_S", 0.2)
    limiter = make_limiter(lease_max=16)
    asked = _count_redis_calls(limiter)
    who = identity()
    for _ in range(40):  # busy: leases grow to the cap
        await limiter.check(who, "admin")
    lease = limiter._leases[who]
    assert lease.size == 16
    await asyncio.sleep(0.3)  # whatever is left lapses
    lapsed_units = lease.units
    asked.clear()
    assert (await limiter.check(who, "admin")).allowed
    assert asked == [8 if lapsed_units else 16]  # units lost: ask for half as many


async def test_concurrent_calls_of_one_key_waste_no_leased_units(make_limiter) -> None:
    """50 calls at once each lease units: none may be overwritten (that would refuse calls early)."""
    limiter = make_limiter(lease_max=16)
    who = identity()
    started = time.monotonic()
    for _ in range(40):  # a busy key: leases at their cap
        await limiter.check(who, "admin")
    decisions = await asyncio.gather(*(limiter.check(who, "admin") for _ in range(50)))
    assert all(d.allowed for d in decisions)
    spent = 40 + 50
    held = limiter._leases[who].units
    assert held <= 16  # a burst leases one lease's worth ahead, not one per concurrent call
    exact = make_limiter()  # no leases: counts what is left in Redis
    left = 0
    while (await exact.check(who, "admin")).allowed:
        left += 1
    # Everything taken from the shared budget is either spent or still held; the budget
    # refills 10 units a second meanwhile (a slow, loaded machine sees more of it).
    refilled = math.ceil((time.monotonic() - started) * LIMITS["admin"] / 60)
    assert 600 <= spent + held + left <= 600 + refilled + 1
