"""Result columns asyncpg cannot decode come back as text, cast by the server.

asyncpg (pinned at 0.32) has no decoder for PostgreSQL's polymorphic pseudo-types (anyarray,
anyrange, anymultirange, the anycompatible* family, pg_ddl_command); pg_stats'
most_common_vals, most_common_elems and histogram_bounds are anyarray. It finds out while
*preparing*, before any row is read: after the Parse/Describe round trip it introspects the
result types it has no codec for, and when a type still has no decoder after six rounds of
that it raises `InternalClientError("could not resolve query result and/or argument types in
6 attempts")`. A built-in type it does not know at all would raise
`UnsupportedClientFeatureError` there instead (none in PostgreSQL 15); extension types are
read as text by asyncpg itself. The named statement it prepared stays on the server: asyncpg
never caches it, so never closes it.

So when preparing fails that way the executor asks the server what the columns are (a
protocol-level Describe needs no codecs), and runs

    SELECT _telcopulse_t.c1 AS "a", _telcopulse_t.c2::pg_catalog.text AS "b"
    FROM (<sql>) AS _telcopulse_t(c1, c2)

instead: a column list on the alias renames positionally, so duplicate or odd names cannot
collide, and the outer list gives every column its own name back, in order. The cast is added
after the guard vetted `<sql>`, and only to the columns that need it. Queries that needed it
are remembered, so a repeated one is described first instead of failing again (a describe is
a round trip; failing is about twenty, with asyncpg's introspection).

Values asyncpg cannot convert (a date past 9999, `24:00` as a time, a record holding an
anyarray) fail while the rows are read; those are named errors that say which column to cast.

Everything here that reaches into asyncpg's private API (`_protocol.prepare`, the statement
state's `_init_types`/`_get_attributes`, `_introspect_types`) is exercised by
tests/integration/test_executor_types.py.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg

# What preparing raises when a result type has no decoder, and what reading rows raises when a
# value does not convert (Python's date, time and timedelta are narrower than PostgreSQL's).
PREPARE_FAILURES = (asyncpg.exceptions.InternalClientError, asyncpg.exceptions.UnsupportedClientFeatureError)
DECODE_FAILURES = (asyncpg.exceptions.InternalClientError, ValueError, ArithmeticError)

TEXT_CAST_HINT = "cast columns of unusual types to text in the SELECT list, e.g. `some_column::text`"
_ALIAS = "_telcopulse_t"
# Types whose values can fall outside what asyncpg converts them to (named in the error).
_NARROW_TYPES = {
    "date",
    "timestamp",
    "timestamptz",
    "time",
    "timetz",
    "interval",
    "daterange",
    "tsrange",
    "tstzrange",
    "datemultirange",
    "tsmultirange",
    "tstzmultirange",
    "record",
}


class UnreadableResult(Exception):
    """asyncpg cannot read (part of) a result; the executor answers it as a `QueryError`."""

    def __init__(self, message: str, *, hint: str = TEXT_CAST_HINT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class ResultColumn:
    name: str
    type_name: str
    decodable: bool


def is_type_failure(exc: BaseException, conn: Any) -> bool:
    """Whether a failed prepare was asyncpg giving up on the statement's types.

    Not a stale cache (its own retry) and not a connection that broke meanwhile (an
    `InternalClientError` too, answered as an outage): that connection is closed.
    """
    return not isinstance(exc, asyncpg.exceptions.OutdatedSchemaCacheError) and not conn.is_closed()


def is_value_failure(exc: BaseException, conn: Any) -> bool:
    """Whether a failed fetch was asyncpg unable to convert a value it read.

    The server's own errors (a `PostgresError` may be a `ValueError` too) and asyncpg's
    interface errors keep their usual mapping; after a conversion error asyncpg has read the
    rest of the answer, so the connection is still open and in a clean state.
    """
    if isinstance(
        exc,
        asyncpg.exceptions.OutdatedSchemaCacheError | asyncpg.PostgresError | asyncpg.InterfaceError,
    ):
        return False
    return not conn.is_closed()


def unconvertible_value(attributes: Any) -> UnreadableResult:
    """The error for a value that did not convert, naming the columns that can hold one."""
    suspects = [
        a for a in attributes if a.type.name.removesuffix("[]") in _NARROW_TYPES or a.type.kind == "composite"
    ]
    where = ""
    if suspects:
        where = " (probably in " + ", ".join(f"{a.name}, a {a.type.name} column" for a in suspects) + ")"
    example = _sql_name(suspects[0].name) if suspects else "some_column"
    return UnreadableResult(
        f"a value in the result cannot be converted for the answer{where}: dates past year 9999, "
        "the time 24:00, very long intervals and records holding anyarray values have no form here",
        hint=f"cast that column to text in the SELECT list, e.g. `{example}::text`",
    )


def unreadable_types() -> UnreadableResult:
    """The error for a type asyncpg has no codec at all for (none in PostgreSQL 15)."""
    return UnreadableResult("the query uses a type the server cannot read or send")


def unsendable_parameter() -> UnreadableResult:
    """The error when every column reads but preparing still fails: a parameter's type."""
    return UnreadableResult(
        "a parameter of the query has a type the server cannot send (a pseudo-type such as anyarray)",
        hint="give the parameter a concrete type, e.g. CAST(:ids AS int[])",
    )


async def describe(conn: Any, sql: str, timeout: float) -> list[ResultColumn]:
    """Name, type and decodability of each column of `sql`, from an unnamed Describe.

    asyncpg keeps a codec without a decoder for every pseudo-type, so the attributes can be
    read even where rows could not be. Types this connection has not met yet (a fresh or
    reset connection: enums, arrays, composites) are introspected first, as asyncpg would,
    so that only types that stay undecodable are cast; the pseudo-types never need that.
    """
    protocol = conn._protocol
    state = await protocol.prepare(
        "", sql, timeout, record_class=protocol.get_record_class(), ignore_custom_codec=False
    )
    settings = protocol.get_settings()
    unknown = [oid for oid in state._init_types() if settings.get_data_codec(oid) is None]
    if unknown:
        types, _ = await conn._introspect_types(unknown, timeout)
        try:
            settings.register_data_types(types)
        except asyncpg.exceptions.UnsupportedClientFeatureError:
            raise unreadable_types() from None
    undecodable = state._init_types()
    try:
        attributes = state._get_attributes()
    except asyncpg.exceptions.InternalClientError:  # a type without any codec
        raise unreadable_types() from None
    return [
        ResultColumn(name=a.name, type_name=a.type.name, decodable=a.type.oid not in undecodable)
        for a in attributes
    ]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_name(name: str) -> str:
    """`name` as written in SQL: quoted only when it has to be."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else quote_identifier(name)


def with_text_casts(sql: str, columns: list[ResultColumn]) -> str:
    """`sql` with its undecodable columns cast to text; names, order and other types unchanged."""
    positions = [f"c{i}" for i in range(1, len(columns) + 1)]
    select = ", ".join(
        f"{_ALIAS}.{position}{'' if column.decodable else '::pg_catalog.text'}"
        f" AS {quote_identifier(column.name)}"
        for position, column in zip(positions, columns, strict=True)
    )
    return f"SELECT {select} FROM ({sql}) AS {_ALIAS}({', '.join(positions)})"


_LEFTOVER_STATEMENTS = (
    "SELECT name FROM pg_catalog.pg_prepared_statements "
    "WHERE statement = $1 AND NOT from_sql AND starts_with(name, '__asyncpg_stmt_')"
)


async def drop_leftover_statements(conn: Any, sql: str, timeout: float) -> None:
    """Deallocate what a failed prepare of `sql` left on the server.

    Safe: a statement asyncpg still uses for this text would have been found in its cache
    instead of prepared again, and closing a statement that is gone is no error.
    """
    for row in await conn.fetch(_LEFTOVER_STATEMENTS, sql, timeout=timeout):
        await conn.execute(f"DEALLOCATE {quote_identifier(row['name'])}", timeout=timeout)


class RecentQueries:
    """The last `size` queries that needed text casts (bounded: agents' SQL varies freely)."""

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._queries: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, sql: object) -> bool:
        return sql in self._queries

    def add(self, sql: str) -> None:
        self._queries[sql] = None
        self._queries.move_to_end(sql)
        while len(self._queries) > self._size:
            self._queries.popitem(last=False)

    def discard(self, sql: str) -> None:
        self._queries.pop(sql, None)
