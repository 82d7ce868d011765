"""Runs already-vetted SQL the only way ad-hoc SQL may run here.

Every query gets its own read-only transaction on a pooled connection, switches to the
least-privilege query role, and carries a statement timeout, so even SQL that slipped
past the parser could neither write, nor read raw/ops, nor run forever. asyncpg uses the
extended protocol: one statement per call, so `COMMIT; ...` cannot escape the
transaction. A page is fetched with LIMIT n+1 around the query, which both bounds
the work and tells whether more rows exist.

Two ways to that guarantee, chosen per call (round trips measured with bench/profile_mcp.py):

* the query pool (`query_session_settings`), for the query role: its connections *log in*
  as the query role (a `role` startup parameter, which `RESET ROLE` and `RESET ALL` return
  to), with read-only transactions, the lock timeout and a statement-timeout ceiling
  (`query_timeout_max`) as session defaults. A query is one round trip: each statement
  is its own read-only transaction, and the call's own timeout is enforced by asyncpg,
  which cancels the statement on the server when it expires. The pool's reset runs after
  the answer (`release_in_background`).
* an explicit transaction (`BEGIN READ ONLY; SET LOCAL ROLE ...`, then `ROLLBACK` with the
  pool's reset query in the same round trip): for another role (admins read raw) and
  where there is no query pool.

Statements are prepared through the connection's statement cache (a repeated query skips
Parse/Describe and the later Close).

Columns of types asyncpg cannot decode (pg_stats' anyarray columns) come back as text, cast by
the server in a wrapper around the query; see text_columns. Ordinary queries never pay for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg

from mcp_server.abandon import cancel_backend_until_idle
from mcp_server.dependencies import POSTGRES, postgres_connection, postgres_outage, postgres_unavailable
from mcp_server.errors import QueryError, QueryTimeout
from mcp_server.query.text_columns import (
    DECODE_FAILURES,
    PREPARE_FAILURES,
    RecentQueries,
    UnreadableResult,
    describe,
    drop_leftover_statements,
    is_type_failure,
    is_value_failure,
    unconvertible_value,
    unsendable_parameter,
    with_text_casts,
)
from mcp_server.query.values import ArgumentTypeError, coerce_arguments, row_converters
from warehouse.tracing import trace_application_name, untraced

logger = logging.getLogger(__name__)

# SQLSTATE classes whose primary message is about the caller's SQL and safe to show.
_USER_FACING_CLASSES = ("22", "42", "21", "2F", "0A")


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Page:
    columns: list[Column]
    rows: list[dict[str, Any]]
    has_more: bool
    truncated_by_bytes: bool
    next_offset: int | None


class ExecutorConnection(asyncpg.Connection):
    """A pooled connection that knows when it has already been reset.

    The executor ends every transaction with `ROLLBACK` followed by the pool's reset query
    in one round trip, then marks the connection; `pool_reset` skips the pool's own reset
    for a marked connection. Every other user of the pool gets the usual reset.
    """

    __slots__ = ("_telcopulse_reset",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._telcopulse_reset = False

    def mark_reset(self) -> None:
        self._telcopulse_reset = True

    def take_reset_mark(self) -> bool:
        marked, self._telcopulse_reset = self._telcopulse_reset, False
        return marked


async def pool_reset(conn: asyncpg.Connection) -> None:
    """`asyncpg.create_pool(reset=...)`: the default reset unless the executor already did it."""
    if isinstance(conn, ExecutorConnection) and conn.take_reset_mark():
        return
    reset_query = conn.get_reset_query()
    if reset_query:
        with untraced():  # housekeeping after every call: not worth a span per release
            await conn.execute(reset_query)


async def _prepare_cached(conn: asyncpg.Connection, sql: str, timeout: float) -> Any:
    """A prepared statement from the connection's statement cache.

    `Connection.prepare` always prepares anew (a Parse/Describe round trip, then a Close);
    the cached form is what `fetch` uses internally, reached through asyncpg's `_prepare`
    (asyncpg is pinned; tests/integration/test_executor_statement_cache.py guards the call).
    """
    return await conn._prepare(sql, timeout=timeout, use_cache=True)


QUERY_LOCK_TIMEOUT_MS = 5_000  # a query waits at most this long for a lock


def query_session_settings(
    role: str, *, statement_timeout_s: float, lock_timeout_ms: int, application_name: str
) -> dict[str, str]:
    """Startup parameters of the query pool's connections: the query role, read-only, bounded.

    `statement_timeout_s` is the ceiling (no call may ask for more); a call's shorter
    timeout is enforced per statement by the executor.
    """
    return {
        "application_name": application_name,
        "role": role,
        "default_transaction_read_only": "on",
        "statement_timeout": str(max(1, int(statement_timeout_s * 1000))),
        "lock_timeout": str(lock_timeout_ms),
        "idle_in_transaction_session_timeout": "60000",
    }


class _StaleStatement(Exception):
    """A cached statement outlived the table it reads (a dbt build replaced it): retry once."""


class ReadOnlyExecutor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        role: str,
        readable_schemas: list[str],
        max_rows: int,
        max_bytes: int,
        lock_timeout_ms: int = QUERY_LOCK_TIMEOUT_MS,
        acquire_timeout: float = 5.0,
        query_pool: asyncpg.Pool | None = None,
    ) -> None:
        """`pool`: the server's own connections (side connections that cancel statements,
        and the explicit-transaction path). `query_pool`: connections opened with
        `query_session_settings(role, ...)`; without one, every query takes a transaction."""
        self._pool = pool
        self._query_pool = query_pool
        self._role = role
        self._readable = ", ".join(readable_schemas)
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._lock_timeout_ms = lock_timeout_ms
        self._acquire_timeout = acquire_timeout
        self._needs_text_casts = RecentQueries()

    @property
    def max_rows(self) -> int:
        return self._max_rows

    def _in_session(self, role: str | None) -> bool:
        """Whether a query runs on the query pool as it is (one round trip), not in a transaction."""
        return self._query_pool is not None and role is None

    @asynccontextmanager
    async def _stopped_when_abandoned(self, conn: asyncpg.Connection) -> AsyncIterator[None]:
        """The caller left (client disconnect, notifications/cancelled): stop the statement now,
        not at its timeout; asyncpg's own cancel request is lost if it reaches PostgreSQL while
        the statement is being read. The side connection comes from the server's own pool."""
        try:
            yield
        except asyncio.CancelledError:
            if not conn.is_closed():
                await cancel_backend_until_idle(self._pool, conn.get_server_pid())
            raise

    @asynccontextmanager
    async def _read_only(
        self, timeout_s: float, role: str | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection that can only read, as the query role; errors named.

        Outages and a full pool come out of `postgres_connection` as `Unavailable`; what is
        left is about the query (a `TimeoutError` here is the statement's own).

        A sampled trace's `traceparent` becomes the connection's `application_name` for the
        query (`trace_application_name`), so `pg_stat_activity` tells a DBA which trace a
        running statement belongs to; the pool's reset (`RESET ALL`) or the rollback ends it.
        A setting, not a comment in the SQL: the statement stays the same text, so it is still
        prepared once and cached.
        """
        timeout_ms = max(1, int(timeout_s * 1000))
        in_session = self._in_session(role)
        traced_as = trace_application_name()
        try:
            if in_session:
                assert self._query_pool is not None
                async with (
                    postgres_connection(
                        self._query_pool, acquire_timeout=self._acquire_timeout, release_in_background=True
                    ) as conn,
                    self._stopped_when_abandoned(conn),
                ):
                    if traced_as:  # one more round trip, for sampled calls only
                        with untraced():
                            await conn.execute(f"SET application_name = '{traced_as}'", timeout=timeout_s)
                    yield conn
                return
            async with postgres_connection(
                self._query_pool or self._pool, acquire_timeout=self._acquire_timeout
            ) as conn:
                # Our own fixed text in one round trip (simple protocol is fine for it); every
                # setting ends with the transaction, which is rolled back: nothing is kept.
                await conn.execute(
                    "BEGIN TRANSACTION READ ONLY; "
                    f'SET LOCAL ROLE "{role or self._role}"; '
                    f"SET LOCAL statement_timeout = {timeout_ms}; "
                    f"SET LOCAL lock_timeout = {min(self._lock_timeout_ms, timeout_ms)}; "
                    "SET LOCAL idle_in_transaction_session_timeout = 60000"
                    + (f"; SET LOCAL application_name = '{traced_as}'" if traced_as else ""),
                    timeout=timeout_s,
                )
                try:
                    async with self._stopped_when_abandoned(conn):
                        yield conn
                finally:
                    if not conn.is_closed():
                        # Shielded: a cancelled caller's ROLLBACK would otherwise be cut short
                        # and the pool would log "Resetting connection with an active transaction".
                        # The pool's reset query rides along (one round trip instead of two).
                        with anyio.move_on_after(5, shield=True):
                            await conn.execute(f"ROLLBACK; {conn.get_reset_query()}")
                            if hasattr(conn, "mark_reset"):  # a pool proxy of an ExecutorConnection
                                conn.mark_reset()
        except (asyncpg.InvalidCachedStatementError, asyncpg.OutdatedSchemaCacheError):
            # A build changed a relation a cached statement reads; the retry drops the pool's
            # statement caches first, so the query prepares afresh.
            raise _StaleStatement from None
        except ArgumentTypeError as exc:
            raise QueryError(
                str(exc), hint="pass dates as 'YYYY-MM-DD' strings and numbers as numbers"
            ) from None
        except UnreadableResult as exc:
            raise QueryError(exc.message, hint=exc.hint) from None
        except asyncpg.QueryCanceledError:
            raise QueryTimeout(
                f"the query ran longer than its {timeout_s:g} s timeout and was cancelled",
                hint="filter earlier (WHERE on the time column), aggregate in SQL, or raise `timeout`",
            ) from None
        except TimeoutError:
            if in_session:  # asyncpg enforced the call's timeout and cancelled the statement
                raise QueryTimeout(
                    f"the query ran longer than its {timeout_s:g} s timeout and was cancelled",
                    hint="filter earlier (WHERE on the time column), aggregate in SQL, or raise `timeout`",
                ) from None
            raise QueryTimeout(f"no answer within {timeout_s:g} s; the query was abandoned") from None
        except asyncpg.ReadOnlySQLTransactionError:
            raise QueryError("the query tried to change data; only reads are allowed") from None
        except asyncpg.InsufficientPrivilegeError:
            raise QueryError(
                "permission denied: that relation or function is not readable through this tool",
                hint=f"readable schemas are {self._readable}; use list_marts to see the curated tables",
            ) from None
        except asyncpg.PostgresError as exc:
            reason = postgres_outage(exc)  # raised by ROLLBACK after the block, say
            if reason is not None:
                POSTGRES.failed(reason)
                raise postgres_unavailable(reason) from None
            sqlstate = getattr(exc, "sqlstate", "") or ""
            if sqlstate.startswith(_USER_FACING_CLASSES):
                raise QueryError(_primary_message(exc), hint=getattr(exc, "hint", None)) from None
            logger.warning("query failed with SQLSTATE %s (%s)", sqlstate, type(exc).__name__)
            raise QueryError(f"the database could not run the query (SQLSTATE {sqlstate})") from None
        except (OSError, asyncpg.InterfaceError) as exc:
            reason = postgres_outage(exc)
            if reason is None:
                raise
            POSTGRES.failed(reason)
            raise postgres_unavailable(reason) from None

    async def _fetch(
        self,
        sql: str,
        args: tuple[Any, ...] | list[Any],
        timeout_s: float,
        role: str | None = None,
        *,
        tail: str,
    ) -> tuple[list[asyncpg.Record], Any]:
        """(records, column attributes) of `SELECT * FROM (sql) ... tail`; one retry if a build
        made its cached plan stale. Undecodable columns come back as text."""
        for attempt in (1, 2):
            try:
                async with self._read_only(timeout_s, role) as conn:
                    if attempt == 2:  # forget every cached statement of the pool's connections
                        await conn.reload_schema_state()
                    # The call's timeout covers preparing too (a frozen server answers neither);
                    # in a transaction statement_timeout enforces it, and this is a backstop.
                    deadline = asyncio.get_running_loop().time() + (
                        timeout_s if self._in_session(role) else timeout_s + 5
                    )
                    statement = await self._prepare(conn, sql, tail, deadline)
                    bound = coerce_arguments([t.name for t in statement.get_parameters()], list(args))
                    try:
                        records = await statement.fetch(*bound, timeout=_left(deadline))
                    except DECODE_FAILURES as exc:
                        # Raised here, inside the connection's block: an InternalClientError
                        # reaching postgres_connection would be taken for a lost connection.
                        if not is_value_failure(exc, conn):
                            raise
                        raise unconvertible_value(statement.get_attributes()) from None
                    return records, statement.get_attributes()
            except _StaleStatement:
                if attempt == 2:
                    raise QueryError("the warehouse changed while the query ran; retry it") from None
        raise AssertionError("unreachable")

    async def _prepare(self, conn: asyncpg.Connection, sql: str, tail: str, deadline: float) -> Any:
        """The cached statement of `sql` in its frame, with undecodable columns cast to text.

        Ordinary queries: one cached prepare, as ever. A query asyncpg cannot prepare (see
        text_columns) is described and rewritten; it is remembered, so next time it is
        described first rather than failing again. Describing each time, not reusing an old
        rewrite, keeps a rebuilt relation's new columns (the rewrite names every column).
        """
        framed = _framed(sql, tail)
        if sql not in self._needs_text_casts:
            try:
                return await _prepare_cached(conn, framed, timeout=_left(deadline))
            except PREPARE_FAILURES as exc:
                if not is_type_failure(exc, conn):
                    raise
            await drop_leftover_statements(conn, framed, _left(deadline))
            columns = await describe(conn, framed, _left(deadline))
            if all(column.decodable for column in columns):  # what failed is not a column
                raise unsendable_parameter()
        else:
            columns = await describe(conn, framed, _left(deadline))
        if all(column.decodable for column in columns):  # remembered, but reads as it is now
            self._needs_text_casts.discard(sql)
            statement = framed
        else:
            self._needs_text_casts.add(sql)
            statement = _framed(with_text_casts(sql, columns), tail)
        try:
            return await _prepare_cached(conn, statement, timeout=_left(deadline))
        except PREPARE_FAILURES as exc:  # the columns read now; a parameter's type does not
            if not is_type_failure(exc, conn):
                raise
            await drop_leftover_statements(conn, statement, _left(deadline))
            raise unsendable_parameter() from None

    async def stream(
        self,
        sql: str,
        args: tuple[Any, ...] | list[Any] = (),
        *,
        timeout_s: float,
        role: str | None = None,
        batch_rows: int = 5_000,
    ) -> AsyncIterator[tuple[list[str], list[str], list[asyncpg.Record]]]:
        """(column names, their PostgreSQL types, a batch of rows) through a server-side cursor;
        the first batch is empty, so the columns of an empty result are known too.

        For exports: a result of any size passes through in batches of `batch_rows`, never
        whole, on the same read-only connection, role and statement deadline as a page.
        """
        async with self._read_only(timeout_s, role) as conn:
            # The framing transaction (BEGIN READ ONLY) holds the cursor; a session-mode
            # connection opens one of its own.
            own = None if conn.is_in_transaction() else conn.transaction(readonly=True)
            if own is not None:
                await own.start()
            try:
                deadline = asyncio.get_running_loop().time() + timeout_s
                statement = await self._prepare(conn, sql, "", deadline)
                names = [a.name for a in statement.get_attributes()]
                types = [a.type.name for a in statement.get_attributes()]
                bound = coerce_arguments([t.name for t in statement.get_parameters()], list(args))
                cursor = await statement.cursor(*bound)
                yield names, types, []  # the columns, even of a result without rows
                while True:
                    batch = await cursor.fetch(batch_rows, timeout=_left(deadline))
                    if not batch:
                        return
                    yield names, types, batch
            finally:
                if own is not None and not conn.is_closed():
                    with anyio.move_on_after(5, shield=True):
                        await own.rollback()

    async def explain(
        self, sql: str, args: tuple[Any, ...] | list[Any] = (), *, timeout_s: float, role: str | None = None
    ) -> dict[str, Any]:
        """PostgreSQL's plan (EXPLAIN, never ANALYZE: nothing runs) of the statement as it would run,
        framed as the query tools frame it, on the same read-only connection and role."""
        async with self._read_only(timeout_s, role) as conn:
            statement = await conn.prepare(f"EXPLAIN (FORMAT JSON) {_framed(sql, '')}", timeout=timeout_s)
            bound = coerce_arguments([t.name for t in statement.get_parameters()], list(args))
            value = await statement.fetchval(*bound, timeout=timeout_s)
        plans = json.loads(value) if isinstance(value, str) else value
        return dict(plans[0]["Plan"])

    async def fetch_all(
        self, sql: str, args: tuple[Any, ...] | list[Any] = (), *, timeout_s: float, max_rows: int
    ) -> tuple[list[str], list[asyncpg.Record]]:
        """Every row (up to `max_rows`, else QueryError), for analyses that need the whole input."""
        records, attributes = await self._fetch(sql, args, timeout_s, tail=f"LIMIT {max_rows + 1}")
        names = [a.name for a in attributes]
        if len(records) > max_rows:
            raise QueryError(
                f"the input has more than {max_rows:,} rows", hint="filter or aggregate it before analysing"
            )
        return names, records

    async def fetch_page(
        self,
        sql: str,
        args: tuple[Any, ...] | list[Any],
        *,
        timeout_s: float,
        offset: int,
        limit: int,
        role: str | None = None,
    ) -> Page:
        limit = max(1, min(limit, self._max_rows))
        records, attributes = await self._fetch(
            sql, args, timeout_s, role, tail=f"LIMIT {limit + 1} OFFSET {int(offset)}"
        )

        columns = _columns(attributes)
        converters = row_converters([c.type for c in columns])
        names = [c.name for c in columns]
        has_more = len(records) > limit
        converted = [
            {name: convert(value) for name, convert, value in zip(names, converters, record, strict=True)}
            for record in records[:limit]
        ]
        rows, truncated_by_bytes = _within_bytes(converted, self._max_bytes)
        more = has_more or truncated_by_bytes
        return Page(
            columns=columns,
            rows=rows,
            has_more=more,
            truncated_by_bytes=truncated_by_bytes,
            next_offset=offset + len(rows) if more else None,
        )


def _left(deadline: float) -> float:
    """Seconds until `deadline` (loop time), at least a millisecond (asyncpg wants a positive timeout)."""
    return max(0.001, deadline - asyncio.get_running_loop().time())


def _framed(sql: str, tail: str) -> str:
    """The statement that runs: the query as a subquery, bounded by `tail` (LIMIT, OFFSET)."""
    return f"SELECT * FROM ({sql}) AS _telcopulse_q {tail}"


def _within_bytes(rows: list[dict[str, Any]], max_bytes: int) -> tuple[list[dict[str, Any]], bool]:
    """The leading rows whose JSON fits in `max_bytes` (at least one), and whether any were cut.

    A page's size is the length of its rows as a JSON array; one `json.dumps` of the page
    settles the common case, and only a page over the cap is measured row by row.
    """
    if len(json.dumps(rows, separators=(",", ":"), default=str)) + 1 <= max_bytes:
        return rows, False
    size = 2
    for index, row in enumerate(rows):
        size += len(json.dumps(row, separators=(",", ":"), default=str)) + 1
        if size > max_bytes and index > 0:
            return rows[:index], True
    return rows, False


def _primary_message(exc: asyncpg.PostgresError) -> str:
    message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    return message.replace("_telcopulse_q.", "").replace('"_telcopulse_q"', "the query")


def _columns(attributes: Any) -> list[Column]:
    """Column names made unique (`?column?` twice would collide as dict keys)."""
    seen: dict[str, int] = {}
    columns = []
    for attribute in attributes:
        name = attribute.name
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[attribute.name]}"
        else:
            seen[name] = 1
        columns.append(Column(name=name, type=attribute.type.name))
    return columns
