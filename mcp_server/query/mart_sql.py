"""SQL for `query_mart`, built only from names checked against the live mart columns.

Agents that should not write SQL describe what they want (columns, aggregates, filters,
grouping, order) and get a query whose every identifier is known and quoted and whose
every value is a bound parameter. Nothing the caller sends is pasted into SQL text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_server.catalog import MART_SCHEMA, Mart
from mcp_server.errors import InputValidationError

Scalar = str | int | float | bool | None
ParamValue = Scalar | list[Scalar]

FilterOp = Literal[
    "=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "like", "ilike", "is_null", "is_not_null"
]
_AGGREGATE = re.compile(
    r"^\s*(sum|avg|min|max|count|count_distinct)\s*\(\s*(\*|[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$"
)
_ORDER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(asc|desc)?\s*$", re.IGNORECASE)


class Filter(BaseModel):
    column: str = Field(description="Mart column to filter on")
    op: FilterOp = Field(
        default="=", description="Comparison; `in`/`not_in` take a list, `between` [low, high]"
    )
    value: ParamValue = Field(default=None, description="Compared value (omit for is_null / is_not_null)")


@dataclass(frozen=True)
class MartQuery:
    sql: str
    args: tuple[Any, ...]
    fingerprint: str


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fail(message: str, hint: str | None = None) -> InputValidationError:
    return InputValidationError(message, hint=hint)


def build_mart_query(
    mart: Mart,
    *,
    columns: list[str] | None,
    filters: list[Filter] | None,
    group_by: list[str] | None,
    order_by: list[str] | None,
) -> MartQuery:
    known = [c.name for c in mart.columns]
    known_set = set(known)

    def check(name: str, where: str) -> str:
        if name not in known_set:
            raise _fail(
                f"unknown column {name!r} in {where} of mart {mart.name}",
                hint=f"columns are: {', '.join(known)}",
            )
        return name

    group = [check(name, "group_by") for name in (group_by or [])]
    select_parts: list[str] = []
    output_names: list[str] = []
    plain: list[str] = []
    aggregated = False
    for spec in columns or ([*group, "count(*)"] if group else known):
        match = _AGGREGATE.match(spec)
        if match:
            function, argument = match.group(1).lower(), match.group(2)
            if argument == "*" and function != "count":
                raise _fail(f"{function}(*) is not valid; name a column", hint="e.g. sum(revenue)")
            if argument != "*":
                check(argument, "columns")
            alias = "count" if argument == "*" else f"{function}_{argument}"
            if function == "count_distinct":
                expression = f"count(DISTINCT {_quote(argument)})"
            else:
                expression = f"{function}({'*' if argument == '*' else _quote(argument)})"
            select_parts.append(f"{expression} AS {_quote(alias)}")
            output_names.append(alias)
            aggregated = True
        else:
            name = check(spec.strip(), "columns")
            select_parts.append(_quote(name))
            output_names.append(name)
            plain.append(name)
    if len(set(output_names)) != len(output_names):
        raise _fail("a column or aggregate is listed twice in columns")
    if aggregated or group:
        missing = [name for name in plain if name not in group]
        if missing:
            raise _fail(
                f"columns {missing} must be in group_by or wrapped in an aggregate",
                hint="add them to group_by, or use e.g. sum(column) / avg(column) / count(*)",
            )

    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    conditions = []
    for item in filters or []:
        column = _quote(check(item.column, "filters"))
        if item.op in ("is_null", "is_not_null"):
            conditions.append(f"{column} IS {'NOT ' if item.op == 'is_not_null' else ''}NULL")
        elif item.op in ("in", "not_in"):
            if not isinstance(item.value, list) or not item.value:
                raise _fail(f"filter {item.op} on {item.column} needs a non-empty list value")
            condition = f"{column} = ANY({bind(item.value)})"
            conditions.append(condition if item.op == "in" else f"NOT ({condition})")
        elif item.op == "between":
            if not isinstance(item.value, list) or len(item.value) != 2:
                raise _fail(f"filter between on {item.column} needs [low, high]")
            conditions.append(f"{column} BETWEEN {bind(item.value[0])} AND {bind(item.value[1])}")
        else:
            if item.value is None or isinstance(item.value, list):
                raise _fail(
                    f"filter {item.op} on {item.column} needs a single value",
                    hint="use is_null / is_not_null for NULL and in / not_in for lists",
                )
            if item.op in ("like", "ilike"):
                conditions.append(f"{column}::text {item.op.upper()} {bind(str(item.value))}")
            else:
                sql_op = "<>" if item.op == "!=" else item.op
                conditions.append(f"{column} {sql_op} {bind(item.value)}")

    orders = []
    for spec in order_by or []:
        match = _ORDER.match(spec)
        if not match or match.group(1) not in output_names:
            raise _fail(
                f"cannot order by {spec!r}",
                hint=f"order by one of the selected columns or aggregates ({', '.join(output_names)}), "
                "optionally followed by asc or desc",
            )
        orders.append(f"{_quote(match.group(1))} {(match.group(2) or 'asc').upper()}")
    if not orders:
        # A stable order makes pages stable: the grain key when it is selected, else every plain column.
        keys = [k for k in mart.unique_key if k in plain] if not (aggregated or group) else []
        orders = [_quote(k) for k in (keys if len(keys) == len(mart.unique_key) and keys else plain)]

    sql = f"SELECT {', '.join(select_parts)} FROM {_quote(MART_SCHEMA)}.{_quote(mart.name)}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if group:
        sql += " GROUP BY " + ", ".join(_quote(g) for g in group)
    if orders:
        sql += " ORDER BY " + ", ".join(orders)
    fingerprint = hashlib.sha256(
        json.dumps([sql, args], separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return MartQuery(sql=sql, args=tuple(args), fingerprint=fingerprint)
