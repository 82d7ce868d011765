"""Named errors for PostgreSQL and Redis failures, and quiet logs while either is down.

Every path that touches a backing service maps the driver's exception here, so an outage
reads the same from every tool: `Unavailable: PostgreSQL is not answering (...)` with
retry advice, never an incident and never a `QueryError` that blames the agent's SQL.
Failures that are about the query (bad SQL, a statement timeout) are left alone.

Logs: a `DependencyHealth` per service writes one WARNING (no traceback) when it goes
down, one summary line every `summary_every` seconds while it stays down (with the count
of failed calls), and one INFO line when a call succeeds again: an outage costs a few
lines, not one per call.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
from redis import exceptions as redis_errors

from mcp_server.errors import Unavailable

logger = logging.getLogger(__name__)

# What clients are told to wait before retrying an outage; asyncpg and redis-py reconnect
# on the next call, so a retry after this succeeds as soon as the service is back.
RETRY_SECONDS = 5
# Bound on the server's own small lookups (data version, live catalog); agents' queries
# carry their own statement timeout.
LOOKUP_TIMEOUT = 15.0
RELEASE_TIMEOUT_S = 5.0  # resetting a connection for the pool; beyond it, it is closed


class DependencyHealth:
    """Up/down state of one backing service, logged on transitions instead of per call."""

    def __init__(
        self, name: str, *, summary_every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.summary_every = summary_every
        self._clock = clock
        self._down_since: float | None = None
        self._last_line = 0.0
        self._since_line = 0
        self._total = 0
        self._reason = ""

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, reason: str) -> None:
        """Count a failed call; log only the first of an outage and a periodic summary."""
        now = self._clock()
        self._reason = reason
        if self._down_since is None:
            self._down_since = self._last_line = now
            self._since_line = 0
            self._total = 1
            logger.warning(
                "%s is unavailable (%s); failing calls answer Unavailable and are counted, "
                "not logged one by one",
                self.name,
                reason,
            )
            return
        self._since_line += 1
        self._total += 1
        if now - self._last_line >= self.summary_every:
            logger.warning(
                "%s still unavailable after %.0f s (%s): %d failed calls in the last %.0f s",
                self.name,
                now - self._down_since,
                reason,
                self._since_line,
                now - self._last_line,
            )
            self._last_line = now
            self._since_line = 0

    def succeeded(self) -> None:
        """A call went through: if the service was down, say once that it is back."""
        if self._down_since is None:
            return
        logger.info(
            "%s is available again after %.0f s; %d calls failed meanwhile",
            self.name,
            self._clock() - self._down_since,
            self._total,
        )
        self._down_since = None
        self._total = self._since_line = 0

    def reset(self) -> None:
        """Forget any outage without logging (tests)."""
        self._down_since = None
        self._total = self._since_line = 0


POSTGRES = DependencyHealth("PostgreSQL")
POSTGRES_POOL = DependencyHealth("PostgreSQL connection pool")
REDIS = DependencyHealth("Redis")


# ---------------------------------------------------------------------------- PostgreSQL


def postgres_outage(exc: BaseException) -> str | None:
    """Why PostgreSQL itself failed, in a few words; None when `exc` is about the query."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        if state == "57P03":
            return "it is starting up or shutting down"
        if state in ("57P01", "57P02"):
            return "it is shutting down"
        if state.startswith("57P0"):
            return "the server closed the connection"
        if state.startswith("08"):
            return "the connection was lost"
        if state == "53300":
            return "it accepts no more connections"
        return None
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # The connection's protocol state broke, e.g. the server's FATAL arrived while it
        # sat idle in the pool (a terminated backend); the pool replaces it on release.
        return "the connection was lost"
    if isinstance(exc, asyncpg.InterfaceError):
        # asyncpg's "connection is closed" / "pool is closing"; other InterfaceErrors are bugs.
        text = str(exc).lower()
        return "the connection was lost" if "closed" in text or "closing" in text else None
    if isinstance(exc, TimeoutError):  # an OSError too, but whose? the caller knows (see below)
        return None
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(exc, OSError):  # ConnectionError, resets, unreachable networks
        return "the connection was lost" if isinstance(exc, ConnectionError) else "network error"
    return None


def postgres_unavailable(reason: str) -> Unavailable:
    return Unavailable(f"PostgreSQL is not answering ({reason})", hint=f"retry in {RETRY_SECONDS} s")


def pool_busy(size: int, waited: float) -> Unavailable:
    return Unavailable(
        f"all {size} database connections are busy (waited {waited:g} s for one)",
        hint=f"retry in {RETRY_SECONDS} s; other long-running queries hold them",
    )


def _pool_exhausted(pool: asyncpg.Pool) -> bool:
    """Every connection the pool may open exists and is lent out (not merely connecting)."""
    try:
        return pool.get_size() - pool.get_idle_size() >= pool.get_max_size()
    except AttributeError:  # not an asyncpg pool (a test double)
        return False


@asynccontextmanager
async def postgres_connection(
    pool: asyncpg.Pool,
    *,
    acquire_timeout: float,
    timeouts_mean_down: bool = False,
    release_in_background: bool = False,
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, with PostgreSQL outages and pool exhaustion named `Unavailable`.

    Waiting for a connection is bounded by `acquire_timeout`. Errors about the query pass
    through unchanged; a `TimeoutError` raised inside the block is the caller's statement
    timeout unless `timeouts_mean_down` (the server's own lookups, which should be instant).
    `release_in_background`: the pool's reset (a round trip) runs after the caller has its
    answer, not before; the connection is back in the pool a moment later.
    """
    acquired = False
    try:
        conn = await pool.acquire(timeout=acquire_timeout)
        acquired = True
        try:
            yield conn
        finally:
            if release_in_background:
                _release_soon(pool, conn)
            else:
                await _release(pool, conn)
    except TimeoutError:
        if acquired and not timeouts_mean_down:
            POSTGRES.succeeded()  # it answered; the statement was just slow
            raise
        if not acquired and _pool_exhausted(pool):
            POSTGRES_POOL.failed(f"all {pool.get_max_size()} connections busy")
            raise pool_busy(pool.get_max_size(), acquire_timeout) from None
        reason = f"no answer within {acquire_timeout:g} s" if not acquired else "a lookup timed out"
        POSTGRES.failed(reason)
        raise postgres_unavailable(reason) from None
    except Exception as exc:
        reason = postgres_outage(exc)
        if reason is None:
            if acquired:
                POSTGRES.succeeded()
            raise
        POSTGRES.failed(reason)
        raise postgres_unavailable(reason) from None
    else:
        POSTGRES.succeeded()
        POSTGRES_POOL.succeeded()


_RELEASING: set[asyncio.Future[None]] = set()  # strong references until each release ends


async def _release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Give `conn` back within `RELEASE_TIMEOUT_S`, or let asyncpg close it; never fail the call.

    Without a bound, a release after a timed-out statement waits for the cancel request and
    the reset query as long as PostgreSQL takes: forever if it is frozen (SIGSTOP, a hung host).
    """
    try:
        await pool.release(conn, timeout=RELEASE_TIMEOUT_S)
    except Exception as exc:  # asyncpg has terminated the connection; the pool opens a new one
        logger.debug("a pooled connection could not be reset in time and was closed (%s)", type(exc).__name__)


def _release_soon(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """`_release` from a task of its own, so the caller has its answer first."""
    releasing = asyncio.ensure_future(_release(pool, conn))
    _RELEASING.add(releasing)
    releasing.add_done_callback(_RELEASING.discard)


class _PoolFloorFilter(logging.Filter):
    """asyncpg logs each failed attempt to refill the pool (WARNING with a traceback, every
    1-60 s during an outage); count it as a PostgreSQL failure instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Failed to restore the pool connection floor"):
            return True
        error = record.exc_info[1] if record.exc_info else None
        POSTGRES.failed((postgres_outage(error) if error else None) or "reconnecting failed")
        return False


_POOL_FLOOR_FILTER = _PoolFloorFilter()


def quiet_driver_logs() -> None:
    """Route asyncpg's per-attempt reconnect warnings through the health tracker (idempotent)."""
    pool_logger = logging.getLogger("asyncpg.pool")
    if _POOL_FLOOR_FILTER not in pool_logger.filters:
        pool_logger.addFilter(_POOL_FLOOR_FILTER)


# ---------------------------------------------------------------------------- Redis


def redis_outage(exc: BaseException) -> str | None:
    """Why Redis failed, in a few words; None for errors that are not about reaching it."""
    if isinstance(exc, redis_errors.TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, redis_errors.BusyLoadingError):
        return "it is loading its data"
    if isinstance(exc, redis_errors.MaxConnectionsError) or "no connection available" in str(exc).lower():
        return "every connection to it is busy"
    if isinstance(exc, redis_errors.ConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            return "connection refused"
        return "the connection was lost"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return "the connection was lost"
    return None


def redis_unavailable(reason: str, what: str = "the session store") -> Unavailable:
    return Unavailable(
        f"Redis is unreachable ({reason}); {what} cannot be used right now",
        hint=f"retry in {RETRY_SECONDS} s",
    )


# ---------------------------------------------------------------------------- any


def dependency_unavailable(exc: BaseException | None) -> Unavailable | None:
    """The named error for an outage that escaped a tool unmapped (the last line of defence)."""
    if exc is None:
        return None
    if isinstance(exc, redis_errors.RedisError):
        reason = redis_outage(exc)
        if reason is None:
            return None
        REDIS.failed(reason)
        return redis_unavailable(reason, what="this tool")
    reason = postgres_outage(exc)
    if reason is None:
        return None
    POSTGRES.failed(reason)
    return postgres_unavailable(reason)
