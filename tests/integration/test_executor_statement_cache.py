"""The executor's per-call savings keep every guarantee they replace (issue 13, per-call cost).

`ReadOnlyExecutor` prepares through asyncpg's statement cache (a private call, on a pinned
asyncpg) and ends each transaction with the pool's reset query, so the pool skips its own.
These tests pin what must not change: a repeated query reuses its statement; a rebuilt
table (new column type, as a dbt build can make) answers with the new type, not an error;
privileges are checked per call whatever role prepared the statement; and a connection
comes back to the pool as reset as ever, for every other user of the pool too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from mcp_server.errors import QueryError, QueryTimeout
from mcp_server.query.executor import ReadOnlyExecutor
from tests.integration.executor_fixtures import server_layout_executor, server_pool
from warehouse.db import connect

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SQL = "SELECT id, label FROM marts.t ORDER BY id"


@pytest_asyncio.fixture(loop_scope="session")
async def pool(empty_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    with connect(empty_database_url) as conn:
        conn.execute("CREATE TABLE marts.t (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO marts.t VALUES (1, 'one'), (2, 'two')")
        conn.execute("CREATE TABLE raw.secret_t (x int)")
        conn.execute("CREATE SEQUENCE marts.s")
        conn.execute("GRANT USAGE, UPDATE ON SEQUENCE marts.s TO telcopulse_query")
    async with server_pool(empty_database_url) as pool:
        yield pool


def _executor(pool: asyncpg.Pool) -> ReadOnlyExecutor:
    return ReadOnlyExecutor(
        pool, role="telcopulse_query", readable_schemas=["marts"], max_rows=100, max_bytes=1_000_000
    )


async def _prepared_statements(pool: asyncpg.Pool) -> set[tuple[str, object]]:
    """(name, prepare time) of the statements prepared for SQL on the pool's one connection."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT name, prepare_time, statement FROM pg_prepared_statements")
    return {
        (row["name"], row["prepare_time"])
        for row in rows
        if row["statement"].startswith(f"SELECT * FROM ({SQL})")
    }


async def test_a_repeated_query_reuses_its_prepared_statement(pool: asyncpg.Pool) -> None:
    executor = _executor(pool)
    first = await executor.fetch_page(SQL, (), timeout_s=10, offset=0, limit=10)
    after_first = await _prepared_statements(pool)
    for _ in range(5):
        page = await executor.fetch_page(SQL, (), timeout_s=10, offset=0, limit=10)
        assert page.rows == first.rows == [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}]
    assert len(after_first) == 1
    assert await _prepared_statements(pool) == after_first  # the same statement, never re-prepared


async def test_a_rebuilt_table_answers_with_its_new_type(pool: asyncpg.Pool, empty_database_url: str) -> None:
    executor = _executor(pool)
    before = await executor.fetch_page(SQL, (), timeout_s=10, offset=0, limit=10)
    assert [c.type for c in before.columns] == ["int4", "text"]
    with connect(empty_database_url) as conn:  # what a dbt build does to a mart
        conn.execute("DROP TABLE marts.t")
        conn.execute("CREATE TABLE marts.t (id bigint PRIMARY KEY, label varchar(10))")
        conn.execute("INSERT INTO marts.t VALUES (3, 'three')")
    after = await executor.fetch_page(SQL, (), timeout_s=10, offset=0, limit=10)
    assert after.rows == [{"id": 3, "label": "three"}]
    assert [c.type for c in after.columns] == ["int8", "varchar"]


async def test_privileges_are_checked_per_call_not_per_prepared_statement(pool: asyncpg.Pool) -> None:
    executor = _executor(pool)
    raw = "SELECT x FROM raw.secret_t"
    admin_page = await executor.fetch_page(
        raw, (), timeout_s=10, offset=0, limit=10, role="telcopulse_query_admin"
    )
    assert admin_page.rows == []
    with pytest.raises(QueryError, match="permission denied"):
        await executor.fetch_page(raw, (), timeout_s=10, offset=0, limit=10)


async def test_connections_come_back_reset_for_every_user_of_the_pool(pool: asyncpg.Pool) -> None:
    await _executor(pool).fetch_page(SQL, (), timeout_s=10, offset=0, limit=10)
    async with pool.acquire() as conn:  # the executor's reset: nothing of its transaction is left
        assert await conn.fetchval("SELECT current_user") == "postgres"
        assert await conn.fetchval("SHOW statement_timeout") == "0"
        assert not conn.is_in_transaction()
        await conn.execute("SET statement_timeout = 1234")  # another user leaves a setting behind
    async with pool.acquire() as conn:  # the pool's own reset still runs for that user
        assert await conn.fetchval("SHOW statement_timeout") == "0"


@pytest_asyncio.fixture(loop_scope="session")
async def session_executor(pool: asyncpg.Pool, empty_database_url: str) -> AsyncIterator[ReadOnlyExecutor]:
    async with server_layout_executor(
        pool, empty_database_url, max_size=2, max_rows=100, max_bytes=1_000_000
    ) as executor:
        yield executor


async def test_query_pool_sessions_read_as_the_query_role_and_only_read(session_executor) -> None:
    who = "SELECT current_user AS u, current_setting('transaction_read_only') AS ro"
    for _ in range(3):  # and again after the pool's reset (RESET ALL, RESET ROLE keep the login role)
        page = await session_executor.fetch_page(who, (), timeout_s=30, offset=0, limit=10)
        assert page.rows == [{"u": "telcopulse_query", "ro": "on"}]
    page = await session_executor.fetch_page(SQL, (), timeout_s=30, offset=0, limit=10)
    assert page.rows == [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}]
    with pytest.raises(QueryError, match="permission denied"):
        await session_executor.fetch_page("SELECT x FROM raw.secret_t", (), timeout_s=30, offset=0, limit=10)
    with pytest.raises(QueryError, match="only reads are allowed"):
        await session_executor.fetch_page(
            "SELECT nextval('marts.s') AS n",
            (),
            timeout_s=30,
            offset=0,
            limit=1,
        )
    admin = await session_executor.fetch_page(
        "SELECT x FROM raw.secret_t", (), timeout_s=30, offset=0, limit=10, role="telcopulse_query_admin"
    )
    assert admin.rows == []  # another role: the explicit-transaction path, on the same connections


async def test_a_call_timeout_in_a_session_cancels_the_statement(
    session_executor, pool: asyncpg.Pool
) -> None:
    heavy = "SELECT count(*) AS n FROM generate_series(1, 100000000) a CROSS JOIN generate_series(1, 100) b"
    with pytest.raises(QueryTimeout, match="ran longer than its 1 s timeout and was cancelled"):
        await session_executor.fetch_page(heavy, (), timeout_s=1, offset=0, limit=1)
    for _ in range(40):  # the statement stops on the server too, not at the 120 s ceiling
        async with pool.acquire() as conn:
            running = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series(1, 100000000)%' AND pid <> pg_backend_pid()"
            )
        if running == 0:
            break
        await asyncio.sleep(0.05)
    assert running == 0
