"""Per-API-key rate limiting whose budget is shared by every server replica.

Several replicas answer the same agents, so a per-process counter would let a client get
N times its limit by spreading calls. The state therefore lives in the shared Redis and
every check is one Lua script (a single round trip, atomic on the server), so concurrent
calls from any number of replicas cannot both spend the last unit.

Algorithm: GCRA (the generic cell rate algorithm, a token bucket expressed as one
timestamp). Chosen over a sorted-set sliding-window log because:

* memory and work per check are O(1): one string key per identity holding its
  "theoretical arrival time" (TAT), whereas a log keeps up to `limit` members per key
  (600 for an admin) and trims them on every call;
* it answers `retry_after` and `reset_after` exactly, with no scan;
* refill is smooth: after a burst of `limit` calls one more is allowed every
  `window / limit` seconds instead of the whole budget coming back at a window edge, so
  agents that retry on `retry_after` do not stampede together.

The trade-off is that GCRA is a sustained rate with a burst allowance, not an exact
"at most N in any 60 s" log; the burst is exactly `limit` calls and the long-run rate is
`limit` per window, which is what the limits are meant to express.

Time comes from `redis.call('TIME')` inside the script, so clock skew between replicas
does not matter. All arithmetic is in integer microseconds (exact in Lua's doubles up to
2**53, i.e. far beyond the epoch values used). The emission interval is
`floor(window_us / limit)` and the burst period `limit * interval`, so a burst of exactly
`limit` calls passes from an idle state whatever the rounding; the window thereby shrinks
by under `limit` microseconds, which is negligible. Each key gets a PX expiry equal to the
time until its bucket is full again, after which it carries no information, so idle
identities cost nothing.

Layout: `<prefix>:<identity>` string = TAT in microseconds of Redis server time. The
identity is the API key *id* (or `stdio:<user>`), never the secret itself, because key
names are visible to anyone with Redis access (MONITOR, SCAN, slow log).

Redis outage: `fail_open=True` (default) keeps answering, because failing closed would
turn a Redis outage into a full service outage while the database still protects itself
with statement timeouts and pool limits. It does not go unmetered, though: the same GCRA
runs in process (`LocalLimiter`, monotonic clock), so each key keeps its limit *per
replica* (N replicas: at most N times the limit in total, instead of no limit), and a
warning is logged at most every `_WARN_EVERY_S`. After a failure Redis is left alone for
`REDIS_RETRY_S` (the local limiter decides meanwhile), then tried again; the first answer
from Redis puts the shared budget back in charge (local budgets are dropped, so a client
may get up to one extra burst at each switch). A *hung* Redis costs a call at most
`timeout_seconds` (default 2 s) before the fallback decides, so it cannot stall every
tool. `fail_open=False` raises `Unavailable` instead, for deployments where a per-replica
limit is not good enough; an honest `Unavailable` is used rather than a refused decision,
so an agent is not told it exceeded a limit it never reached.

Leases (`lease_max`, the server's `rate_limit_lease`): a busy key does not cost a Redis
round trip per call. The script can grant *up to* N units at once (never more than fit in
the bucket); the replica keeps the units it did not need yet and spends them locally for
up to `LEASE_TTL_S`. N starts at 1 for each key, doubles while leases are used up in time
and halves when one expires unused, capped at `lease_max` and at 5 % of the key's limit.
Units are taken from the shared bucket *before* they are spent, so the replicas together
never allow more than the limit; the cost is that units a replica leased but did not use
are lost, so a key that moves between replicas, or stops mid-lease, may be refused a few
units early (at most the cap per replica). `lease_max=1` is the exact, one-round-trip-per-call
behaviour.

An exhausted client connection pool (`MaxConnectionsError`, e.g. more than 100 checks in
flight on one redis.asyncio client) is *load*, not an outage: failing open there would let
a flood of concurrent calls bypass the limit exactly when it matters. The check waits up
to `pool_wait_seconds` for a connection and then raises `Unavailable` (server busy)
whatever `fail_open` says.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import MaxConnectionsError, RedisError

from mcp_server.errors import Unavailable

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "telcopulse:ratelimit"
# Under an outage every call fails; one warning per interval says so without flooding logs.
_WARN_EVERY_S = 30.0
# After Redis failed: how long the local limiter decides alone before Redis is tried again.
REDIS_RETRY_S = 2.0
# Identities the local fallback remembers at most (idle ones carry no state and go first).
LOCAL_MAX_IDENTITIES = 10_000

# KEYS[1] bucket key. ARGV[1] interval_us (cost of one unit), ARGV[2] period_us
# (limit * interval, the burst capacity in time), ARGV[3] cost in units, ARGV[4] the most
# units to take (>= cost; the extra ones become the caller's lease).
# Returns {units taken (0 = refused), tat_minus_now_us after the decision, retry_after_us}.
# The TAT is written with %.0f because tostring() would use %.14g and lose digits.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local most = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local fit = math.floor((period - (tat - now)) / interval)
if fit < cost then
  return {0, tat - now, tat + cost * interval - period - now}
end
local take = math.min(fit, most)
local new_tat = tat + take * interval
local ttl_ms = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {take, new_tat - now, 0}
"""
# How long leased units may be spent locally before they lapse.
LEASE_TTL_S = 2.0
# A lease never holds more than this share of a key's limit (what a replica can waste).
LEASE_SHARE_OF_LIMIT = 0.05


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one check, with what a client needs to back off correctly.

    `remaining` counts cost units still available right now; `retry_after` is `math.inf`
    when the call can never pass (limit 0, or a cost above the whole limit), so an agent
    stops instead of retrying forever. `role` and `window_seconds` are carried so the
    decision can be explained (see `retry_message`) without the limiter at hand.
    """

    allowed: bool
    limit: int  # requests per window
    remaining: int
    retry_after: float  # seconds until the next request would be allowed (0 if allowed)
    reset_after: float  # seconds until the bucket is full again
    role: str = ""
    window_seconds: int = 60


class LocalLimiter:
    """The same GCRA in process memory: the fallback while Redis cannot be reached.

    Used from the event loop only (no lock needed). Bounded: buckets that are full again
    carry no information and are dropped first, then the least recently used.
    """

    def __init__(self, max_identities: int = LOCAL_MAX_IDENTITIES) -> None:
        self.max_identities = max_identities
        self._tats: OrderedDict[str, float] = OrderedDict()

    def check(
        self, identity: str, interval_s: float, period_s: float, cost: int
    ) -> tuple[bool, float, float]:
        """(allowed, tat - now after the decision, retry_after) in seconds; spends on success."""
        now = time.monotonic()
        tat = max(self._tats.get(identity, now), now)
        new_tat = tat + cost * interval_s
        if new_tat - now > period_s:
            return False, tat - now, new_tat - period_s - now
        self._tats[identity] = new_tat
        self._tats.move_to_end(identity)
        if len(self._tats) > self.max_identities:
            self._prune(now)
        return True, new_tat - now, 0.0

    def _prune(self, now: float) -> None:
        for identity in [i for i, tat in self._tats.items() if tat <= now]:
            del self._tats[identity]
        while len(self._tats) > self.max_identities:
            self._tats.popitem(last=False)

    def clear(self) -> None:
        self._tats.clear()

    def __len__(self) -> int:
        return len(self._tats)


@dataclass
class _Lease:
    """Units of one key this replica took from Redis ahead of its calls."""

    units: int = 0
    expires_at: float = -math.inf
    size: int = 1  # units to ask for next time
    limit: int = 0
    remaining_after_grant: int = 0  # Redis's answer when the units were taken


class RateLimiter:
    """Checks and spends per-identity budgets in Redis; safe to share across tasks."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        limits_per_minute: Mapping[str, int],
        prefix: str = DEFAULT_PREFIX,
        window_seconds: int = 60,
        fail_open: bool = True,
        pool_wait_seconds: float = 1.0,
        timeout_seconds: float = 2.0,
        lease_max: int = 1,
    ) -> None:
        """`limits_per_minute` maps role -> calls per window (per minute with the default
        window; the name follows the configuration). Unknown roles get the smallest limit
        so a typo or a new role never grants more than the most restricted one."""
        if not limits_per_minute:
            raise ValueError("limits_per_minute needs at least one role")
        for role, limit in limits_per_minute.items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise ValueError(f"rate limit for role {role!r} must be an integer >= 0, got {limit!r}")
        if not isinstance(window_seconds, int) or window_seconds <= 0:
            raise ValueError(f"window_seconds must be a positive integer, got {window_seconds!r}")
        if pool_wait_seconds < 0:
            raise ValueError(f"pool_wait_seconds must be >= 0, got {pool_wait_seconds!r}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds!r}")
        if not isinstance(lease_max, int) or isinstance(lease_max, bool) or lease_max < 1:
            raise ValueError(f"lease_max must be an integer >= 1, got {lease_max!r}")
        self._limits = dict(limits_per_minute)
        self._default_limit = min(self._limits.values())
        self.prefix = prefix
        self.window_seconds = window_seconds
        self.fail_open = fail_open
        self.pool_wait_seconds = pool_wait_seconds
        self.timeout_seconds = max(timeout_seconds, pool_wait_seconds)
        self._window_us = window_seconds * 1_000_000
        self._script = redis.register_script(_GCRA)
        self._last_warning = -math.inf
        self.local = LocalLimiter()
        self.lease_max = lease_max
        self._leases: dict[str, _Lease] = {}
        self._leasing: dict[str, asyncio.Future[None]] = {}  # lease requests in flight, by key
        # Monotonic time before which Redis is not tried again after a failure.
        self._redis_down_until = -math.inf

    @property
    def degraded(self) -> bool:
        """True while decisions come from the in-process fallback (Redis unreachable)."""
        return self._redis_down_until != -math.inf

    def limit_for(self, role: str) -> int:
        return self._limits.get(role, self._default_limit)

    def key_for(self, identity: str) -> str:
        return f"{self.prefix}:{identity}"

    async def check(self, identity: str, role: str, cost: int = 1) -> RateDecision:
        """Spend `cost` units of `identity`'s budget if they are available, atomically.

        A refused call spends nothing, so a client hammering while limited does not push
        its own recovery further away.
        """
        if not identity:
            raise ValueError("identity must be a non-empty API key id")
        if not isinstance(cost, int) or isinstance(cost, bool) or cost < 1:
            raise ValueError(f"cost must be a positive integer, got {cost!r}")
        limit = self.limit_for(role)
        if limit == 0:  # blocked role: no need to ask Redis, and no key is created
            return RateDecision(False, 0, 0, math.inf, 0.0, role, self.window_seconds)

        interval = max(1, self._window_us // limit)
        period = interval * limit
        if self.fail_open and time.monotonic() < self._redis_down_until:
            return self._local_decision(identity, limit, role, interval, period, cost)
        leased = self._spend_lease(identity, limit, role, cost)
        if leased is not None:
            return leased
        most = cost
        leader: asyncio.Future[None] | None = None
        if self.lease_max > 1:
            # One lease request per key at a time: calls that arrive meanwhile wait for it and
            # spend from it, or ask for exactly their own cost, so a burst cannot lease more
            # than one lease's worth of units ahead.
            pending = self._leasing.get(identity)
            if pending is not None:
                await asyncio.shield(pending)
                leased = self._spend_lease(identity, limit, role, cost)
                if leased is not None:
                    return leased
            else:
                leader = self._leasing[identity] = asyncio.get_running_loop().create_future()
                most = max(cost, self._lease_size(identity, limit, cost))
        try:
            async with asyncio.timeout(self.timeout_seconds):
                taken, tat_us, retry_us = await self._run(
                    self.key_for(identity), interval, period, cost, most
                )
        except MaxConnectionsError as exc:
            self._lease_done(identity, leader)
            self._warn("rate limiter found its Redis connection pool exhausted; refusing the call", exc)
            raise Unavailable("the server is too busy right now; retry in a few seconds") from exc
        except (RedisError, TimeoutError) as exc:
            self._lease_done(identity, leader)
            return self._redis_failed(exc, identity, limit, role, interval, period, cost)
        except BaseException:
            self._lease_done(identity, leader)
            raise
        if self.degraded:
            self._redis_down_until = -math.inf
            self.local.clear()
            log.warning("rate limiter reaches Redis again; limits are shared by all replicas again")

        taken, tat_us, retry_us = int(taken), int(tat_us), int(retry_us)
        allowed = taken >= cost
        if not allowed and (leased := self._spend_lease(identity, limit, role, cost)) is not None:
            self._lease_done(identity, leader)
            return leased  # concurrent calls of this key leased the last units meanwhile
        remaining = min(limit, max(0, (period - tat_us) // interval))
        if allowed and self.lease_max > 1:
            self._keep_lease(identity, limit, taken - cost, remaining)
            remaining += taken - cost
        self._lease_done(identity, leader)
        retry_after = 0.0 if allowed else (math.inf if cost > limit else retry_us / 1e6)
        return RateDecision(
            allowed=allowed,
            limit=limit,
            remaining=remaining,
            retry_after=retry_after,
            reset_after=tat_us / 1e6,
            role=role,
            window_seconds=self.window_seconds,
        )

    # -- leases
    def _lease_size(self, identity: str, limit: int, cost: int) -> int:
        """Units to ask Redis for: grows while a key uses its leases up in time."""
        if self.lease_max == 1:
            return 1
        cap = max(1, min(self.lease_max, int(limit * LEASE_SHARE_OF_LIMIT)))
        lease = self._leases.get(identity)
        if lease is None:
            return 1
        if time.monotonic() < lease.expires_at:
            if lease.units < cost:  # used up before it lapsed: a busy key
                lease.size = min(lease.size * 2, cap)
        elif lease.units > 0:  # lapsed with units unused: they are lost, ask for fewer
            lease.size = max(1, lease.size // 2)
        return min(lease.size, cap)

    def _spend_lease(self, identity: str, limit: int, role: str, cost: int) -> RateDecision | None:
        """An allowed decision paid from this replica's lease, or None (ask Redis)."""
        lease = self._leases.get(identity)
        if (
            lease is None
            or lease.limit != limit
            or lease.units < cost
            or time.monotonic() >= lease.expires_at
        ):
            return None
        lease.units -= cost
        return RateDecision(
            allowed=True,
            limit=limit,
            remaining=min(limit, lease.remaining_after_grant + lease.units),
            retry_after=0.0,
            reset_after=0.0,
            role=role,
            window_seconds=self.window_seconds,
        )

    def _lease_done(self, identity: str, leader: asyncio.Future[None] | None) -> None:
        """Wake the calls waiting for this key's lease request (once it is kept, or failed)."""
        if leader is None:
            return
        if self._leasing.get(identity) is leader:
            del self._leasing[identity]
        if not leader.done():
            leader.set_result(None)

    def _keep_lease(self, identity: str, limit: int, units: int, remaining: int) -> None:
        lease = self._leases.get(identity)
        if lease is None:
            if len(self._leases) >= LOCAL_MAX_IDENTITIES:
                self._drop_lapsed_leases()
            lease = self._leases[identity] = _Lease()
        now = time.monotonic()
        if lease.limit == limit and now < lease.expires_at:
            lease.units += units  # concurrent calls of one key each took some: keep them all
        else:
            lease.units = units
        lease.limit, lease.remaining_after_grant = limit, remaining
        lease.expires_at = now + LEASE_TTL_S

    def _drop_lapsed_leases(self) -> None:
        now = time.monotonic()
        for identity in [i for i, lease in self._leases.items() if lease.expires_at <= now]:
            del self._leases[identity]
        while len(self._leases) >= LOCAL_MAX_IDENTITIES:
            del self._leases[next(iter(self._leases))]

    async def _run(
        self, key: str, interval: int, period: int, cost: int, most: int | None = None
    ) -> list[int]:
        """Run the script, waiting briefly for a pooled connection when all are in use.

        redis.asyncio's default pool raises instead of queueing; polling with a short,
        growing pause turns a momentary spike into a small delay rather than an error.
        """
        deadline = time.monotonic() + self.pool_wait_seconds
        pause = 0.001
        while True:
            try:
                return await self._script(keys=[key], args=[interval, period, cost, most or cost])
            except MaxConnectionsError:
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.01)

    def _redis_failed(
        self,
        exc: BaseException,
        identity: str,
        limit: int,
        role: str,
        interval: int,
        period: int,
        cost: int,
    ) -> RateDecision:
        if not self.fail_open:
            self._warn("rate limiter cannot reach Redis; refusing the call", exc)
            raise Unavailable("the rate limiter is unreachable right now; retry in a few seconds") from exc
        self._warn("rate limiter cannot reach Redis; enforcing limits per process until it is back", exc)
        self._redis_down_until = time.monotonic() + REDIS_RETRY_S
        return self._local_decision(identity, limit, role, interval, period, cost)

    def _local_decision(
        self, identity: str, limit: int, role: str, interval: int, period: int, cost: int
    ) -> RateDecision:
        """The decision of the in-process fallback, in the same shape as Redis's."""
        allowed, tat, retry = self.local.check(identity, interval / 1e6, period / 1e6, cost)
        remaining = min(limit, max(0, int((period / 1e6 - tat) // (interval / 1e6))))
        retry_after = 0.0 if allowed else (math.inf if cost > limit else retry)
        return RateDecision(allowed, limit, remaining, retry_after, tat, role, self.window_seconds)

    def _warn(self, message: str, exc: BaseException) -> None:
        """Log at most one warning per `_WARN_EVERY_S`: an outage hits every call."""
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY_S:
            self._last_warning = now
            log.warning("%s (%s)", message, type(exc).__name__, exc_info=exc)


def retry_message(decision: RateDecision) -> str:
    """Text for an agent that was refused: what the limit is and when to try again.

    The wait is rounded *up* to a tenth of a second so following it literally never lands
    a fraction early and gets refused again.
    """
    per = "calls/min" if decision.window_seconds == 60 else f"calls per {decision.window_seconds} s"
    who = f" for role {decision.role}" if decision.role else ""
    if decision.limit == 0:
        return f"rate limit of 0 {per}{who}: this key may not make calls; do not retry"
    if math.isinf(decision.retry_after):
        return f"this call costs more than the whole rate limit of {decision.limit} {per}{who}; do not retry"
    wait = math.ceil(decision.retry_after * 10) / 10
    return f"rate limit of {decision.limit} {per}{who} reached; retry after {wait:.1f} s"
