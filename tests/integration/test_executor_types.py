"""Every result type comes back: what asyncpg cannot decode is read as text, or named.

asyncpg (pinned) has no decoder for pseudo-types such as pg_stats' anyarray columns and gives
up while preparing; the executor then casts exactly those columns to text around the vetted
query (mcp_server/query/text_columns.py). Values asyncpg cannot convert (a date past 9999)
answer a QueryError that says which column to cast, never an incident or an outage. These
tests run against real PostgreSQL, on the executor's two paths (the query pool's session and
an explicit transaction for another role) and through the real `query_database` tool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from mcp import Client

from mcp_server.app import build_server
from mcp_server.dependencies import POSTGRES
from mcp_server.errors import QueryError, QueryTimeout
from mcp_server.query.executor import (
    ReadOnlyExecutor,
)
from mcp_server.query.text_columns import RecentQueries, is_type_failure, is_value_failure
from tests.integration.executor_fixtures import server_layout_executor, server_pool
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from warehouse.db import connect

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

ANYARRAY_COLUMNS = ("most_common_vals", "histogram_bounds", "most_common_elems")
STATS = "SELECT * FROM pg_stats WHERE schemaname = 'marts' AND tablename = 'plans'"


def _make_mart(url: str) -> None:
    """A mart whose statistics have every anyarray column filled, with several element types."""
    with connect(url) as conn:
        conn.execute(
            "CREATE TABLE marts.plans (id int PRIMARY KEY, tier text, started date, price numeric(8, 2), "
            "active boolean, tags text[])"
        )
        conn.execute(
            "INSERT INTO marts.plans SELECT g, (ARRAY['basic', 'plus', 'pro''s \"max\"'])[1 + g % 3], "
            "DATE '2026-01-01' + (g % 40), (g % 7) * 10.5, g % 4 = 0, ARRAY['t' || (g % 5), 'x'] "
            "FROM generate_series(1, 400) g"
        )
        conn.commit()
        conn.execute("ANALYZE marts.plans")  # as the owner: pg_stats is empty until then
        conn.commit()


def _direct(url: str, sql: str) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return conn.execute(sql).fetchall()


def _anyarrays_as_text(url: str) -> dict[str, tuple[str | None, ...]]:
    """attname -> the anyarray columns as PostgreSQL prints them, read directly."""
    casts = ", ".join(f"{c}::text" for c in ANYARRAY_COLUMNS)
    rows = _direct(url, f"SELECT attname, {casts} FROM ({STATS}) s")
    return {row[0]: tuple(row[1:]) for row in rows}


def _by_attname(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {row["attname"]: tuple(row[c] for c in ANYARRAY_COLUMNS) for row in rows}


@pytest_asyncio.fixture(loop_scope="session")
async def pool(empty_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    _make_mart(empty_database_url)
    async with server_pool(empty_database_url) as pool:
        yield pool


@pytest_asyncio.fixture(loop_scope="session")
async def executor(pool: asyncpg.Pool, empty_database_url: str) -> AsyncIterator[ReadOnlyExecutor]:
    async with server_layout_executor(
        pool, empty_database_url, max_size=1, max_rows=1000, max_bytes=10_000_000
    ) as executor:
        yield executor


# The query pool's session (the query role) and an explicit transaction (another role).
PATHS = [pytest.param(None, id="session"), pytest.param("telcopulse_query_admin", id="transaction")]


@pytest.mark.parametrize("role", PATHS)
async def test_pg_stats_answers_with_its_anyarray_columns_as_text(
    executor: ReadOnlyExecutor, empty_database_url: str, role: str | None
) -> None:
    expected = _anyarrays_as_text(empty_database_url)
    assert {"tier", "started", "price", "active", "tags"} <= set(expected)
    assert all(expected[c][0] is not None for c in ("tier", "active"))  # most_common_vals
    assert expected["id"][1] is not None  # histogram_bounds
    assert expected["tags"][2] is not None  # most_common_elems
    names = [
        row[0]
        for row in _direct(
            empty_database_url,
            "SELECT attname FROM pg_attribute "
            "WHERE attrelid = 'pg_catalog.pg_stats'::regclass ORDER BY attnum",
        )
    ]
    for _ in range(2):  # the second call goes straight to the rewrite
        page = await executor.fetch_page(STATS, (), timeout_s=30, offset=0, limit=100, role=role)
        assert [c.name for c in page.columns] == names
        types = {c.name: c.type for c in page.columns}
        assert [types[c] for c in ANYARRAY_COLUMNS] == ["text"] * 3
        assert types["most_common_freqs"] == "float4[]" and types["attname"] == "name"
        assert _by_attname(page.rows) == expected
        freqs = {row["attname"]: row["most_common_freqs"] for row in page.rows}
        assert len(freqs["tier"]) == 3 and abs(sum(freqs["tier"]) - 1) < 1e-5


async def test_duplicate_and_odd_names_keep_their_order_next_to_a_cast_column(
    executor: ReadOnlyExecutor, empty_database_url: str
) -> None:
    sql = (
        'SELECT s.attname AS x, s.most_common_vals, s.attname AS x, 1 AS "odd ""name"" ", '
        "s.histogram_bounds AS x, 2 FROM pg_stats s WHERE s.schemaname = 'marts' AND s.tablename = 'plans' "
        "AND s.attname = 'started'"
    )
    expected = _direct(
        empty_database_url,
        "SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats "
        "WHERE schemaname = 'marts' AND tablename = 'plans' AND attname = 'started'",
    )[0]
    page = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    assert [(c.name, c.type) for c in page.columns] == [
        ("x", "name"),
        ("most_common_vals", "text"),
        ("x_2", "name"),
        ('odd "name" ', "int4"),
        ("x_3", "text"),
        ("?column?", "int4"),
    ]
    assert page.rows == [
        {
            "x": "started",
            "most_common_vals": expected[0],
            "x_2": "started",
            'odd "name" ': 1,
            "x_3": expected[1],
            "?column?": 2,
        }
    ]
    names, records = await executor.fetch_all(sql, timeout_s=30, max_rows=10)  # analyses' path
    assert names == ["x", "most_common_vals", "x", 'odd "name" ', "x", "?column?"]
    assert [tuple(r) for r in records] == [("started", expected[0], "started", 1, expected[1], 2)]


async def test_pg_lsn_comes_back_as_asyncpg_reads_it(executor: ReadOnlyExecutor) -> None:
    page = await executor.fetch_page(
        "SELECT '16/B374D848'::pg_lsn AS lsn", (), timeout_s=30, offset=0, limit=1
    )
    assert [(c.name, c.type) for c in page.columns] == [("lsn", "pg_lsn")]
    assert page.rows == [{"lsn": 0x16_B374_D848}]  # asyncpg decodes an LSN to its integer


async def test_pages_and_parameters_work_on_a_rewritten_query(executor: ReadOnlyExecutor) -> None:
    sql = (
        "SELECT attname, most_common_vals FROM pg_stats WHERE schemaname = 'marts' "
        "AND tablename = $1 ORDER BY attname"
    )
    first = await executor.fetch_page(sql, ("plans",), timeout_s=30, offset=0, limit=2)
    second = await executor.fetch_page(sql, ("plans",), timeout_s=30, offset=2, limit=2)
    assert [r["attname"] for r in first.rows + second.rows] == ["active", "id", "price", "started"]
    assert first.has_more and first.next_offset == 2
    assert first.rows[0]["most_common_vals"] == "{f,t}"


async def test_a_failed_prepare_leaves_no_statement_behind_and_is_not_repeated(
    executor: ReadOnlyExecutor,
) -> None:
    """asyncpg never closes the statement it could not finish; the executor deallocates it,
    and a repeated query is rewritten up front (one cached statement, prepared once)."""
    framed = f"SELECT * FROM ({STATS}) AS _telcopulse_q LIMIT 101 OFFSET 0"
    assert executor._query_pool is not None

    async def statements() -> list[tuple[str, str, object]]:
        async with executor._query_pool.acquire() as conn:  # the pool's only connection
            rows = await conn.fetch("SELECT name, statement, prepare_time FROM pg_prepared_statements")
        return [(r["name"], r["statement"], r["prepare_time"]) for r in rows if "pg_stats" in r["statement"]]

    await executor.fetch_page(STATS, (), timeout_s=30, offset=0, limit=100)
    after_first = await statements()
    assert [s for s in after_first if s[1] == framed] == []  # the leftover was deallocated
    assert len(after_first) == 1 and "::pg_catalog.text" in after_first[0][1]
    for _ in range(3):
        await executor.fetch_page(STATS, (), timeout_s=30, offset=0, limit=100)
    assert await statements() == after_first


async def test_types_a_fresh_connection_has_not_met_are_not_cast(
    executor: ReadOnlyExecutor, empty_database_url: str
) -> None:
    """A remembered query is described first; types the connection has not introspected yet
    (an enum and an array of it here) are introspected then, not mistaken for undecodable ones."""
    with connect(empty_database_url) as conn:
        conn.execute("CREATE TYPE marts.tier AS ENUM ('basic', 'plus')")
        conn.commit()
    sql = (
        "SELECT 'plus'::marts.tier AS tier, most_common_vals, ARRAY['basic'::marts.tier] AS tiers "
        "FROM pg_stats WHERE schemaname = 'marts' AND tablename = 'plans' AND attname = 'tier'"
    )
    expected = _direct(
        empty_database_url,
        "SELECT most_common_vals::text FROM pg_stats WHERE schemaname = 'marts' AND tablename = 'plans' "
        "AND attname = 'tier'",
    )[0][0]
    first = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    assert executor._query_pool is not None
    async with executor._query_pool.acquire() as conn:
        await conn.reload_schema_state()  # forget every type codec and statement, as on a new connection
    again = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    for page in (first, again):
        assert [(c.name, c.type) for c in page.columns] == [
            ("tier", "tier"),
            ("most_common_vals", "text"),
            ("tiers", "tier[]"),
        ]
        assert page.rows == [{"tier": "plus", "most_common_vals": expected, "tiers": ["basic"]}]


async def test_a_remembered_query_that_no_longer_needs_casts_runs_as_it_is(
    executor: ReadOnlyExecutor,
) -> None:
    """Whether a query needs the rewrite is decided by describing it each time, not by memory."""
    sql = "SELECT 1 AS one, 'x' AS x"
    executor._needs_text_casts.add(sql)  # as if it had needed casts before (a view redefined since)
    page = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    assert [(c.name, c.type) for c in page.columns] == [("one", "int4"), ("x", "text")]
    assert page.rows == [{"one": 1, "x": "x"}]
    assert sql not in executor._needs_text_casts


async def test_a_rebuilt_table_behind_a_rewritten_query_answers_with_its_new_columns(
    executor: ReadOnlyExecutor, empty_database_url: str
) -> None:
    sql = (
        "SELECT p.*, s.most_common_vals FROM marts.plans p CROSS JOIN (SELECT most_common_vals FROM pg_stats "
        "WHERE schemaname = 'marts' AND tablename = 'plans' AND attname = 'tier') s WHERE p.id = 1"
    )
    before = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    assert [c.name for c in before.columns][-2:] == ["tags", "most_common_vals"]
    with connect(empty_database_url) as conn:  # what a dbt build does to a mart
        conn.execute("DROP TABLE marts.plans")
        conn.execute("CREATE TABLE marts.plans (id bigint, tier text, extra text)")
        conn.execute("INSERT INTO marts.plans SELECT g, 'basic', 'new' FROM generate_series(1, 50) g")
        conn.commit()
        conn.execute("ANALYZE marts.plans")
        conn.commit()
    after = await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10)
    assert [(c.name, c.type) for c in after.columns] == [
        ("id", "int8"),
        ("tier", "text"),
        ("extra", "text"),
        ("most_common_vals", "text"),
    ]
    assert after.rows == [{"id": 1, "tier": "basic", "extra": "new", "most_common_vals": "{basic}"}]


@pytest.mark.parametrize("role", PATHS)
async def test_the_call_timeout_still_holds_on_a_rewritten_query(
    executor: ReadOnlyExecutor, role: str | None
) -> None:
    slow = f"SELECT most_common_vals, pg_sleep(3) AS z FROM ({STATS}) s"
    with pytest.raises(QueryTimeout):
        await executor.fetch_page(slow, (), timeout_s=1, offset=0, limit=10, role=role)
    page = await executor.fetch_page(STATS, (), timeout_s=30, offset=0, limit=100, role=role)
    assert page.rows  # the connection is fine afterwards


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT 1 AS x, '10000-01-01'::date AS d", "probably in d, a date column"),
        ("SELECT '24:00'::time AS closing", "probably in closing, a time column"),
        (
            f"SELECT ROW(s.attname, s.most_common_vals) AS r FROM ({STATS}) s",
            "probably in r, a record column",
        ),
    ],
)
@pytest.mark.parametrize("role", PATHS)
async def test_a_value_asyncpg_cannot_convert_is_a_query_error_that_names_the_column(
    executor: ReadOnlyExecutor, sql: str, named: str, role: str | None
) -> None:
    POSTGRES.reset()
    with pytest.raises(QueryError) as caught:
        await executor.fetch_page(sql, (), timeout_s=30, offset=0, limit=10, role=role)
    text = str(caught.value)
    assert text.startswith("QueryError: a value in the result cannot be converted for the answer")
    assert named in text and "::text`" in text
    assert not POSTGRES.down  # not taken for a lost connection
    page = await executor.fetch_page("SELECT 1 AS one", (), timeout_s=30, offset=0, limit=1, role=role)
    assert page.rows == [{"one": 1}]  # and the connection answers the next query


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT array_length($1::anyarray, 1) AS n",
        f"SELECT s.most_common_vals, array_length($1::anyarray, 1) AS n FROM ({STATS}) s",  # after the rewrite
    ],
)
@pytest.mark.parametrize("role", PATHS)
async def test_a_parameter_of_a_pseudo_type_is_a_query_error(
    executor: ReadOnlyExecutor, sql: str, role: str | None
) -> None:
    """Casting columns cannot help when asyncpg cannot send a parameter; the error says what can."""
    POSTGRES.reset()
    for _ in range(2):
        with pytest.raises(QueryError) as caught:
            await executor.fetch_page(sql, ([1, 2],), timeout_s=30, offset=0, limit=1, role=role)
        assert str(caught.value) == (
            "QueryError: a parameter of the query has a type the server cannot send (a pseudo-type such as "
            "anyarray) Hint: give the parameter a concrete type, e.g. CAST(:ids AS int[])"
        )
    assert not POSTGRES.down
    assert executor._query_pool is not None
    async with executor._query_pool.acquire() as conn:  # no statement of the failed attempts is left
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%$1::anyarray%'"
            " AND statement NOT LIKE '%pg_prepared_statements%'"
        )
    assert left == 0
    page = await executor.fetch_page(
        "SELECT array_length($1::int[], 1) AS n", ([1, 2],), timeout_s=30, offset=0, limit=1, role=role
    )
    assert page.rows == [{"n": 2}]


async def test_query_database_answers_pg_stats_for_a_mart(
    empty_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The reported failure, through the real tool: analysts (query pool) and admins (transaction)."""
    _make_mart(empty_database_url)
    expected = _anyarrays_as_text(empty_database_url)
    settings = mcp_settings(empty_database_url, redis_url, tmp_path, query_cache_ttl=0)
    for role in ("analyst", "admin"):
        async with Client(build_server(settings, local_role=role)) as client:
            result = structured(await client.call_tool("query_database", {"query": STATS}))
            types = {c["name"]: c["type"] for c in result["columns"]}
            assert [types[c] for c in ANYARRAY_COLUMNS] == ["text"] * 3, role
            assert _by_attname(result["rows"]) == expected, role
            assert result["row_count"] == len(expected) == 6

            bad = await client.call_tool("query_database", {"query": "SELECT DATE '10000-01-01' AS d"})
            assert bad.is_error
            assert error_text(bad).startswith(
                "QueryError: a value in the result cannot be converted for the answer (probably in d, a date column)"
            )
            assert "incident" not in error_text(bad)

            lsn = structured(
                await client.call_tool("query_database", {"query": "SELECT '16/B374D848'::pg_lsn AS lsn"})
            )
            assert lsn["rows"] == [{"lsn": 0x16_B374_D848}]


class _Connection:
    def __init__(self, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


async def test_only_asyncpg_giving_up_on_types_or_values_is_taken_for_one() -> None:
    """A connection that broke (closed) or a stale cache keeps its own mapping (outage, retry)."""
    open_, closed = _Connection(False), _Connection(True)
    unresolved = asyncpg.exceptions.InternalClientError(
        "could not resolve query result and/or argument types"
    )
    assert is_type_failure(unresolved, open_)
    assert not is_type_failure(unresolved, closed)
    assert not is_type_failure(asyncpg.exceptions.OutdatedSchemaCacheError("x"), open_)
    assert is_value_failure(ValueError("year 10000 is out of range"), open_)
    assert is_value_failure(OverflowError("date value out of range"), open_)
    assert not is_value_failure(ValueError("x"), closed)
    assert not is_value_failure(asyncpg.exceptions.DataError("invalid input for query argument $1"), open_)
    assert not is_value_failure(asyncpg.exceptions.OutdatedSchemaCacheError("x"), open_)


async def test_remembered_queries_are_bounded() -> None:
    recent = RecentQueries(size=2)
    for sql in ("a", "b", "a", "c"):  # "a" was used again, so "b" is the oldest
        recent.add(sql)
    assert ("a" in recent, "b" in recent, "c" in recent) == (True, False, True)
    recent.discard("a")
    recent.discard("nope")
    assert "a" not in recent
