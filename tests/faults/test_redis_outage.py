"""Redis stops or stalls: session tools answer Unavailable, query tools keep answering.

The result cache is an optimisation, so queries go to PostgreSQL while Redis is away;
sessions live in Redis, so their tools say it is unreachable. Both recover on their own
when Redis returns. A private redis-server is used; the machine's 6379 is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from mcp import Client

from tests.faults.conftest import assert_unavailable, call, eventually_ok, fresh_select, run_blocking
from tests.integration.mcp_helpers import structured

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("fresh_health"),
]


async def test_stopped_redis_fails_sessions_not_queries_and_recovers(make_server, private_redis) -> None:
    server = make_server()
    async with Client(server) as client:
        session = structured(await call(client, "session_create", {"data_source": "warehouse"}))
        await run_blocking(private_redis.stop)

        text = assert_unavailable(
            await call(client, "session_create", {"data_source": "warehouse"}), "Redis is unreachable ("
        )
        assert "session store" in text, text
        assert_unavailable(
            await call(client, "session_read", {"session_id": session["session_id"], "key": "x"}),
            "Redis is unreachable (",
        )
        # The query cache is optional: queries still answer, from PostgreSQL.
        for _ in range(3):
            page = structured(await call(client, "query_database", fresh_select()))
            assert page["row_count"] == 1 and page["cached"] is False
        structured(await call(client, "list_marts"))
        structured(await call(client, "query_mart", {"mart": "fct_arpu_monthly"}))

        await run_blocking(private_redis.start)
        created = await eventually_ok(lambda: call(client, "session_create", {"data_source": "warehouse"}))
        assert structured(created)["status"] == "active"
        # And the cache is used again once its short back-off has passed.
        query = fresh_select()
        deadline = time.monotonic() + 5
        while not structured(await call(client, "query_database", query))["cached"]:
            assert time.monotonic() < deadline, "the result cache was not used again within 5 s"
            await asyncio.sleep(0.2)


async def test_stalled_redis_is_bounded_by_the_socket_timeout(make_server, private_redis) -> None:
    server = make_server(redis_socket_timeout=1)
    async with Client(server) as client:
        structured(await call(client, "session_create", {"data_source": "warehouse"}))
        private_redis.pause()
        try:
            assert_unavailable(
                await call(client, "session_create", {"data_source": "warehouse"}),
                "Redis is unreachable (it did not answer in time)",
            )
            # Queries answer: a cache read that stalls is given up, then skipped for a moment.
            for _ in range(3):
                assert structured(await call(client, "query_database", fresh_select()))["row_count"] == 1
        finally:
            private_redis.resume()
        await eventually_ok(lambda: call(client, "session_create", {"data_source": "warehouse"}))


async def test_a_redis_outage_logs_a_few_lines_without_tracebacks(make_server, private_redis, caplog) -> None:
    server = make_server()
    async with Client(server) as client:
        structured(await call(client, "session_create", {"data_source": "warehouse"}))
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await run_blocking(private_redis.stop)
            for _ in range(10):
                assert_unavailable(
                    await call(client, "session_create", {"data_source": "warehouse"}), "Redis"
                )
                structured(await call(client, "query_database", fresh_select()))
            await run_blocking(private_redis.start)
            await eventually_ok(lambda: call(client, "session_create", {"data_source": "warehouse"}))
        ours = [r for r in caplog.records if r.name == "mcp_server.dependencies"]
        warnings = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
        # One "went down" line per dependency tracker, none repeated, however many calls failed.
        downs = [message.split(" is unavailable (")[0] for message in warnings]
        assert all(" is unavailable (" in message for message in warnings), warnings
        assert len(downs) == len(set(downs)) and "Redis" in downs, downs
        assert warnings[0].startswith("Redis is unavailable"), warnings
        assert any(r.getMessage().startswith("Redis is available again") for r in ours), [
            r.getMessage() for r in ours
        ]
        noisy = [
            r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "mcp_server.dependencies"
        ]
        assert not noisy, [(r.name, r.getMessage()) for r in noisy]
        assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.WARNING]
