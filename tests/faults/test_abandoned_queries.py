"""Abandoned work stops: a client that drops its connection (or sends notifications/cancelled)
gets its PostgreSQL statement cancelled and its pool connection back within 2 s.

A real `telcopulse serve` process on the shared test database; the slow query is one the SQL
guard accepts (pg_sleep is refused): a count over a huge generate_series.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.faults.http_clients import (
    Served,
    connect,
    open_session,
    request_bytes,
    serve,
    session_headers,
)

pytestmark = pytest.mark.integration

SLOW_SQL = "SELECT count(*) AS n FROM generate_series(1, {bound}) AS g(i)"
ACCEPTANCE_S = 2.0  # the acceptance figure


@pytest.fixture(scope="module", params=["stateful", "stateless"])
def served(request, run_database_url, redis_url, tmp_path_factory) -> Iterator[tuple[Served, str]]:
    stateless = "true" if request.param == "stateless" else "false"
    with serve(
        run_database_url,
        redis_url,
        tmp_path_factory.mktemp(f"abandon-{request.param}"),
        TELCOPULSE_MCP_STATELESS=stateless,
    ) as server:
        try:
            yield server, run_database_url
        finally:
            _terminate_leftovers(run_database_url)


def _terminate_leftovers(database_url: str) -> None:
    """A failed test must not leave its slow statement running for the next ones."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query ILIKE '%generate_series(1, 1000%'"
        )


def _slow_sql() -> tuple[str, str]:
    """A slow statement with a bound of its own, so each test polls for its own statement only."""
    bound = 100_000_000_000 + next(_BOUNDS)
    return SLOW_SQL.format(bound=bound), f"%generate_series(1, {bound})%"


_BOUNDS = itertools.count(random.randrange(1_000_000))


def _running(database_url: str, marker: str, *, for_at_least: float = 0.0) -> list[tuple[int, str]]:
    """Backends running the statement (for at least `for_at_least` s: past parse and bind)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            # By database and statement text, not application_name: asyncpg's RESET ALL on
            # release clears the name context.py sets per connection (see the issue notes).
            "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE %s "
            "AND now() - query_start >= make_interval(secs => %s)",
            (marker, for_at_least),
        ).fetchall()


def _wait_until(condition, limit: float, what: str) -> float:
    """Seconds until `condition()` held (polling every 50 ms); fails after `limit` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            pytest.fail(f"{what} not within {limit:g} s")
        time.sleep(0.05)
    return time.monotonic() - started


def _call(request_id: int, sql: str) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "query_database", "arguments": {"query": sql, "timeout": 120}},
        }
    ).encode()


def _start_slow_call(server: Served, session: str, request_id: int, sql: str):
    sock = connect(server)
    sock.sendall(request_bytes(server, _call(request_id, sql), headers=session_headers(session)))
    return sock


def _pool_answers(server: Served, session: str) -> None:
    """A quick query still gets answered: the cancelled call's connection went back to the pool."""
    headers = session_headers(session) | {"X-API-Key": server.key}
    with httpx.Client(timeout=60) as http:
        for index in range(8):  # more calls than the pool has connections (TELCOPULSE_DB_POOL_MAX)
            response = http.post(server.url, headers=headers, content=_call(100 + index, "SELECT 1 AS one"))
            assert response.status_code == 200
            assert '"one"' in response.text and 'isError":true' not in response.text


def _assert_quiet_log(server: Served) -> None:
    """No traceback and no ERROR line for a client that went away; one INFO line instead."""
    lines = server.log_path.read_text().splitlines()
    assert not [line for line in lines if "Traceback" in line], lines[-20:]
    errors = [line for line in lines if '"level": "ERROR"' in line]
    assert not errors, errors


def test_dropped_connection_cancels_the_statement(served):
    server, database_url = served
    session = open_session(server)
    sql, marker = _slow_sql()
    sock = _start_slow_call(server, session, 7, sql)
    try:
        _wait_until(
            lambda: _running(database_url, marker, for_at_least=0.5), 60, "the slow statement running"
        )
    finally:
        sock.close()  # the client goes away mid-call
    took = _wait_until(lambda: not _running(database_url, marker), 30, "the abandoned statement ending")
    print(f"statement gone {took:.2f} s after the client disconnected")
    assert took <= ACCEPTANCE_S
    _pool_answers(server, session)
    _assert_quiet_log(server)


# Stateful only: a stateless server has no session that a notifications/cancelled could address.
@pytest.mark.parametrize("served", ["stateful"], indirect=True)
def test_notifications_cancelled_cancels_the_statement(served):
    server, database_url = served
    session = open_session(server)
    assert session, "a stateful server hands out an MCP session id"
    sql, marker = _slow_sql()
    sock = _start_slow_call(server, session, 8, sql)
    try:
        _wait_until(
            lambda: _running(database_url, marker, for_at_least=0.5), 60, "the slow statement running"
        )
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 8}}
        headers = session_headers(session) | {"X-API-Key": server.key}
        started = time.monotonic()
        response = httpx.post(server.url, headers=headers, json=cancel, timeout=30)
        assert response.status_code == 202
        took = time.monotonic() - started
        took += _wait_until(lambda: not _running(database_url, marker), 30, "the cancelled statement ending")
    finally:
        sock.close()
    print(f"statement gone {took:.2f} s after notifications/cancelled")
    assert took <= ACCEPTANCE_S
    _pool_answers(server, session)
    _assert_quiet_log(server)


async def test_cancel_backend_until_idle_stops_a_running_statement(run_database_url):
    """The helper the executor's cancellation path should call (asyncpg's own cancel can be lost)."""
    import asyncio

    import asyncpg

    from mcp_server.abandon import cancel_backend_until_idle
    from warehouse.db import as_url

    pool = await asyncpg.create_pool(as_url(run_database_url), min_size=2, max_size=2)
    try:
        async with pool.acquire() as busy:
            sleeper = asyncio.ensure_future(busy.execute("SELECT pg_sleep(30)"))
            pid = busy.get_server_pid()
            await asyncio.sleep(0.5)
            assert await cancel_backend_until_idle(pool, pid)
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(sleeper, 10)
    finally:
        await pool.close()
