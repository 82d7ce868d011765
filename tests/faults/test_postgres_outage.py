"""PostgreSQL stops, shuts down, or runs out of pooled connections: every answer is named.

A real MCP server (in-memory client) reads a private PostgreSQL that the tests stop and
start; the machine's shared server is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import time

import psutil
import psycopg
import pytest
from mcp import Client

from mcp_server.dependencies import POSTGRES
from tests.faults.conftest import (
    ANSWER_WITHIN,
    INCIDENT,
    assert_unavailable,
    call,
    eventually_ok,
    fresh_select,
    run_blocking,
)
from tests.integration.mcp_helpers import error_text, structured
from tests.private_services import PrivatePostgres, as_pg_user, pg_bin

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("fresh_health"),
]


async def test_stopped_postgres_answers_unavailable_and_recovers(make_server, private_pg) -> None:
    server = make_server()
    async with Client(server) as client:
        assert structured(await call(client, "query_database", fresh_select()))["rows"][0]["n"] >= 1
        structured(await call(client, "list_marts"))

        await run_blocking(private_pg.stop)

        for tool, arguments in [
            ("query_database", fresh_select()),
            ("list_marts", {}),
            ("query_mart", {"mart": "fct_arpu_monthly"}),
            ("query_database", fresh_select()),
        ]:
            assert_unavailable(await call(client, tool, arguments), "PostgreSQL is not answering (")

        await run_blocking(private_pg.start)
        result = await eventually_ok(lambda: call(client, "query_database", fresh_select()))
        assert structured(result)["row_count"] == 1
        structured(await eventually_ok(lambda: call(client, "list_marts")))
        mart = structured(
            await eventually_ok(lambda: call(client, "query_mart", {"mart": "fct_arpu_monthly"}))
        )
        assert mart["rows"] == [{"month": "2026-01-01", "revenue": 10.5}]


async def test_no_answer_during_an_outage_is_an_incident(make_server, private_pg) -> None:
    server = make_server()
    async with Client(server) as client:
        session = structured(await call(client, "session_create", {"data_source": "warehouse"}))
        await run_blocking(private_pg.stop, "immediate")  # a crash: connections cut off
        calls = [
            ("query_database", fresh_select()),
            ("query_database", {**fresh_select(), "session_id": session["session_id"], "save_as": "x"}),
            ("list_marts", {}),
            ("query_mart", {"mart": "dim_customers", "limit": 5}),
            ("analyze_data", {"data_source": "warehouse", "analysis_type": "churn_rate"}),
            ("analyze_data", {"data_source": "fct_arpu_monthly", "analysis_type": "arpu"}),
            ("session_close", {"session_id": session["session_id"]}),
        ]
        for tool, arguments in calls:
            result = await call(client, tool, arguments)
            text = error_text(result)
            assert result.is_error, (tool, text)
            assert INCIDENT not in text, (tool, text)
            assert text.startswith("Unavailable: "), (tool, text)
        with pytest.raises(Exception) as raised:  # resources answer protocol errors, named the same
            await asyncio.wait_for(client.read_resource("schema://database/main"), ANSWER_WITHIN)
        assert "Unavailable: PostgreSQL is not answering (" in str(raised.value), str(raised.value)
        assert INCIDENT not in str(raised.value)


async def test_shutdown_sqlstates_are_unavailable_not_query_errors(make_server, private_pg) -> None:
    """Smart shutdown: sessions are terminated (57P01) and new connections refused (57P03)."""
    server = make_server()
    async with Client(server) as client:
        structured(await call(client, "query_database", fresh_select()))
        # An outside session keeps a smart shutdown pending: PostgreSQL stays up but refuses
        # every new connection with SQLSTATE 57P03 ("the database system is shutting down").
        with psycopg.connect(private_pg.url("telcopulse"), autocommit=True) as outside:
            subprocess.run(
                as_pg_user([pg_bin("pg_ctl"), "-D", str(private_pg.data), "-m", "smart", "-W", "stop"]),
                check=True,
                capture_output=True,
            )
            await run_blocking(_wait_until_refusing, private_pg.url("telcopulse"))
            terminated = outside.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'telcopulse-mcp'"
            ).fetchall()
            assert terminated, "the server's pooled sessions carry application_name telcopulse-mcp"
            texts = [
                assert_unavailable(await call(client, "query_database", fresh_select()), "PostgreSQL")
                for _ in range(3)
            ]
            assert any("starting up or shutting down" in text for text in texts), texts
            assert not any(text.startswith("QueryError") for text in texts), texts
        await run_blocking(private_pg.stop)  # the outside session is gone; finish the stop
        await run_blocking(private_pg.start)
        await eventually_ok(lambda: call(client, "query_database", fresh_select()))


def _wait_until_refusing(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            psycopg.connect(url, connect_timeout=2).close()
        except psycopg.OperationalError as exc:
            if "shutting down" in str(exc):
                return
        time.sleep(0.05)
    pytest.fail("PostgreSQL never began its smart shutdown")


async def test_a_full_pool_is_named_and_frees_up(make_server) -> None:
    server = make_server(db_pool_min=1, db_pool_max=1, db_pool_acquire_timeout=1)
    async with Client(server) as client:
        structured(await call(client, "query_database", fresh_select()))
        app = server.shared.peek()
        assert app is not None
        # The only connection of each pool (agents' queries; the server's own lookups), busy elsewhere.
        held = await app.pool.acquire()
        held_query = await app.query_pool.acquire()
        try:
            text = assert_unavailable(
                await call(client, "query_database", fresh_select()), "all 1 database connections are busy"
            )
            assert "waited 1 s" in text and "120" not in text, text
            assert_unavailable(await call(client, "list_marts"), "connections are busy")
        finally:
            await app.query_pool.release(held_query)
            await app.pool.release(held)
        structured(await call(client, "query_database", fresh_select()))


async def test_statement_timeouts_keep_their_own_name_and_figure(make_server) -> None:
    server = make_server()
    async with Client(server) as client:
        heavy = (
            "SELECT count(*) AS n FROM generate_series(1, 100000000) a CROSS JOIN generate_series(1, 100) b"
        )
        result = await call(client, "query_database", {"query": heavy, "timeout": 1})
        text = error_text(result)
        assert text.startswith("TimeoutError: the query ran longer than its 1 s timeout"), text


async def test_an_outage_logs_a_few_lines_without_tracebacks(make_server, private_pg, caplog) -> None:
    server = make_server()
    async with Client(server) as client:
        structured(await call(client, "query_database", fresh_select()))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await run_blocking(private_pg.stop)
            for _ in range(20):
                assert_unavailable(await call(client, "query_database", fresh_select()), "PostgreSQL")
            assert POSTGRES.down
            await run_blocking(private_pg.start)
            await eventually_ok(lambda: call(client, "query_database", fresh_select()))
        ours = [r for r in caplog.records if r.name == "mcp_server.dependencies"]
        warnings = [r for r in ours if r.levelno >= logging.WARNING]
        # One "went down" line per dependency tracker (the server, its pool), none repeated.
        downs = [r.getMessage().split(" is unavailable (")[0] for r in warnings]
        assert all(" is unavailable (" in r.getMessage() for r in warnings), [
            r.getMessage() for r in warnings
        ]
        assert len(downs) == len(set(downs)) and "PostgreSQL" in downs, downs
        assert "PostgreSQL is unavailable" in warnings[0].getMessage()
        assert any(
            "PostgreSQL is available again" in r.getMessage() for r in ours if r.levelno == logging.INFO
        )
        # Nothing on the tool path logs per call or with a traceback.
        noisy = [
            r
            for r in caplog.records
            if r.levelno >= logging.WARNING
            and r.name != "mcp_server.observability.audit"  # its own batching, reported separately
            and (r.exc_info or r.name != "mcp_server.dependencies")
        ]
        assert not noisy, [(r.name, r.getMessage()) for r in noisy]


def _postgres_processes(pg: PrivatePostgres) -> list[psutil.Process]:
    """The postmaster and every process it started (backends, checkpointer, WAL writer...)."""
    postmaster = psutil.Process(pg.pid)
    return [postmaster, *postmaster.children(recursive=True)]


async def test_a_frozen_postgres_answers_in_bounded_time_and_redis_tools_keep_working(
    make_server, private_pg
) -> None:
    """SIGSTOP on every PostgreSQL process (a hung host, a stalled disk): nothing hangs forever."""
    server = make_server()
    async with Client(server) as client:
        structured(await call(client, "query_database", fresh_select()))
        created = await call(client, "session_create", {"data_source": "warehouse", "access_level": "write"})
        session = structured(created)["session_id"]
        processes = _postgres_processes(private_pg)
        for process in reversed(processes):  # backends first, so none is left running alone
            process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            for tool, arguments in [
                ("query_database", {**fresh_select(), "timeout": 2}),
                ("list_marts", {}),
                ("query_mart", {"mart": "fct_arpu_monthly"}),
            ]:
                result = await call(client, tool, arguments)  # fails the test if it takes > 30 s
                text = error_text(result)
                assert result.is_error, text
                assert text.startswith(("Unavailable: ", "TimeoutError: ")), text
                assert INCIDENT not in text, text
            assert time.monotonic() - started < ANSWER_WITHIN
            # Redis-only tools keep answering while PostgreSQL is frozen (their audit rows wait).
            saved = await call(
                client, "session_update", {"session_id": session, "key": "k", "value": {"a": 1}}
            )
            assert not saved.is_error, error_text(saved)
            got = structured(await call(client, "session_read", {"session_id": session, "key": "k"}))
            assert got["value"] == {"a": 1}
        finally:
            for process in processes:
                process.send_signal(signal.SIGCONT)
        result = await eventually_ok(lambda: call(client, "query_database", fresh_select()))
        assert structured(result)["row_count"] == 1
        structured(await eventually_ok(lambda: call(client, "list_marts")))
