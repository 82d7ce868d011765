"""The driver-exception mapper and the health tracker, without any service running."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

import asyncpg
import pytest
from redis import exceptions as redis_errors

from mcp_server.dependencies import (
    DependencyHealth,
    dependency_unavailable,
    postgres_connection,
    postgres_outage,
    redis_outage,
)
from mcp_server.errors import Unavailable

pytestmark = pytest.mark.usefixtures("fresh_health")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            asyncpg.CannotConnectNowError("the database system is starting up"),
            "it is starting up or shutting down",
        ),
        (
            asyncpg.CannotConnectNowError("the database system is shutting down"),
            "it is starting up or shutting down",
        ),
        (
            asyncpg.AdminShutdownError("terminating connection due to administrator command"),
            "it is shutting down",
        ),
        (asyncpg.CrashShutdownError("crash"), "it is shutting down"),
        (
            asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
            "the connection was lost",
        ),
        (asyncpg.ConnectionFailureError("x"), "the connection was lost"),
        (
            asyncpg.TooManyConnectionsError("sorry, too many clients already"),
            "it accepts no more connections",
        ),
        (
            asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
            "the connection was lost",
        ),
        (asyncpg.InterfaceError("pool is closing"), "the connection was lost"),
        (ConnectionRefusedError(111, "Connect call failed"), "connection refused"),
        (ConnectionResetError(104, "reset"), "the connection was lost"),
        (OSError(101, "Network is unreachable"), "network error"),
    ],
)
def test_postgres_outages_are_named(error: BaseException, reason: str) -> None:
    assert postgres_outage(error) == reason
    mapped = dependency_unavailable(error)
    assert isinstance(mapped, Unavailable)
    assert str(mapped) == f"Unavailable: PostgreSQL is not answering ({reason}) Hint: retry in 5 s"


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),  # 57014: the query's
        asyncpg.UndefinedTableError('relation "nope" does not exist'),
        asyncpg.InsufficientPrivilegeError("permission denied"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        TimeoutError(),
        ValueError("x"),
    ],
)
def test_query_failures_are_not_outages(error: BaseException) -> None:
    assert postgres_outage(error) is None
    assert dependency_unavailable(error) is None


def test_redis_failures_are_named() -> None:
    refused = redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
    assert redis_outage(refused) == "connection refused"
    assert (
        redis_outage(redis_errors.ConnectionError("Connection closed by server."))
        == "the connection was lost"
    )
    assert (
        redis_outage(redis_errors.TimeoutError("Timeout reading from socket")) == "it did not answer in time"
    )
    assert redis_outage(redis_errors.BusyLoadingError("loading")) == "it is loading its data"
    assert (
        redis_outage(redis_errors.ConnectionError("No connection available."))
        == "every connection to it is busy"
    )
    assert redis_outage(redis_errors.ResponseError("WRONGTYPE")) is None
    assert str(dependency_unavailable(refused)) == (
        "Unavailable: Redis is unreachable (connection refused); this tool cannot be used right now "
        "Hint: retry in 5 s"
    )


class _Pool:
    """Just enough of asyncpg.Pool for postgres_connection."""

    def __init__(self, error: BaseException | None = None, *, busy: bool = False, wait: bool = False) -> None:
        self.error, self.busy, self.wait = error, busy, wait

    def acquire(self, timeout: float):
        @asynccontextmanager
        async def lend():
            if self.wait:
                await asyncio.sleep(timeout + 1)
            if self.error is not None:
                raise self.error
            yield object()

        class _Acquire:
            async def __aenter__(self):
                self._cm = lend()
                return await asyncio.wait_for(self._cm.__aenter__(), timeout)

            async def __aexit__(self, *exc):
                return await self._cm.__aexit__(*exc)

            def __await__(self):  # `await pool.acquire()`, as asyncpg allows too
                return self.__aenter__().__await__()

        return _Acquire()

    async def release(self, conn: object, *, timeout: float | None = None) -> None:
        pass

    def get_max_size(self) -> int:
        return 3

    def get_size(self) -> int:
        return 3 if self.busy else 1

    def get_idle_size(self) -> int:
        return 0


async def test_connecting_while_postgres_starts_up_is_unavailable() -> None:
    pool = _Pool(asyncpg.CannotConnectNowError("the database system is starting up"))
    with pytest.raises(Unavailable) as raised:
        async with postgres_connection(pool, acquire_timeout=1):  # type: ignore[arg-type]
            pass
    assert str(raised.value) == (
        "Unavailable: PostgreSQL is not answering (it is starting up or shutting down) Hint: retry in 5 s"
    )


async def test_waiting_for_a_connection_names_the_cause_and_the_real_figure() -> None:
    with pytest.raises(Unavailable) as busy:
        async with postgres_connection(_Pool(busy=True, wait=True), acquire_timeout=0.1):  # type: ignore[arg-type]
            pass
    assert str(busy.value).startswith(
        "Unavailable: all 3 database connections are busy (waited 0.1 s for one)"
    )
    with pytest.raises(Unavailable) as silent:
        async with postgres_connection(_Pool(wait=True), acquire_timeout=0.1):  # type: ignore[arg-type]
            pass
    assert str(silent.value).startswith("Unavailable: PostgreSQL is not answering (no answer within 0.1 s)")


async def test_a_timeout_inside_the_block_is_the_statements_own() -> None:
    with pytest.raises(TimeoutError):
        async with postgres_connection(_Pool(), acquire_timeout=1):  # type: ignore[arg-type]
            raise TimeoutError
    with pytest.raises(Unavailable, match="a lookup timed out"):
        async with postgres_connection(_Pool(), acquire_timeout=1, timeouts_mean_down=True):  # type: ignore[arg-type]
            raise TimeoutError


def test_an_outage_logs_one_line_then_summaries_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    health = DependencyHealth("PostgreSQL", summary_every=30, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="mcp_server.dependencies"):
        for _ in range(20):  # 20 failing calls within 3 s
            health.failed("connection refused")
            now[0] += 0.15
        assert health.down
        assert [r.levelname for r in caplog.records] == ["WARNING"]
        now[0] += 30
        health.failed("connection refused")
        health.failed("connection refused")
        health.succeeded()
        health.succeeded()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0] == (
        "WARNING",
        "PostgreSQL is unavailable (connection refused); failing calls answer Unavailable and are "
        "counted, not logged one by one",
    )
    assert lines[1] == (
        "WARNING",
        "PostgreSQL still unavailable after 33 s (connection refused): 20 failed calls in the last 33 s",
    )
    assert lines[2] == ("INFO", "PostgreSQL is available again after 33 s; 22 calls failed meanwhile")
    assert len(lines) == 3
    assert not any(r.exc_info for r in caplog.records)
    assert not health.down
