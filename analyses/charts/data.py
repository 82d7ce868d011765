"""Agent-sent data → one DataFrame, and the one error type of the chart package.

Agents send data in whatever shape the previous tool returned, so `to_frame` accepts the
common shapes, and every failure, here or later while plotting, is a `ChartError` whose
message says what to change. The MCP server also reads session tables through `to_frame`,
so its messages reach agents from `analyze_data` too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analyses.decimals import coerce_decimals

_NUMERIC_SQL_TYPES = frozenset(
    {"int2", "int4", "int8", "float4", "float8", "numeric", "integer", "bigint", "smallint", "real", "double"}
)


class ChartError(ValueError):
    """The request cannot be drawn as asked; the message tells the caller what to change."""


def to_frame(data: Any) -> pd.DataFrame:
    """Normalise the shapes agents pass around into one DataFrame with unique string column names.

    Accepted: a list of row dicts; a dict of column -> list; the query tools' result shape
    `{"columns": [names or {"name", "type"}], "rows": [list or dict rows]}`; a DataFrame.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        if not isinstance(frame.index, pd.RangeIndex):
            try:  # a named index (groupby output) is usually the x column
                frame = frame.reset_index()
            except ValueError:  # its name clashes with a column: the index is not data then
                frame = frame.reset_index(drop=True)
        if isinstance(frame.columns, pd.MultiIndex):
            frame.columns = [" / ".join(str(p) for p in col if str(p)) for col in frame.columns]
    elif isinstance(data, Mapping):
        frame = _table_frame(data) if _is_table(data) else _column_frame(data)
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes | bytearray):
        frame = _records_frame(data)
    else:
        raise ChartError(
            f"data must be a list of row objects, an object of column arrays, or "
            f'{{"columns": [...], "rows": [...]}}; got {type(data).__name__}'
        )
    frame.columns = [str(c) for c in frame.columns]
    duplicated = sorted(name for name, n in Counter(frame.columns).items() if n > 1)
    if duplicated:
        raise ChartError(f"column names must be unique; repeated: {', '.join(duplicated)}")
    # psycopg hands numerics over as Decimal; pandas keeps those as opaque objects.
    return coerce_decimals(frame).reset_index(drop=True)


def _is_table(data: Mapping[str, Any]) -> bool:
    rows = data.get("rows")
    if not isinstance(rows, list | tuple):
        return False
    if "columns" in data:
        return True
    return bool(rows) and all(isinstance(r, Mapping) for r in rows)


def _column_names(columns: Any) -> list[str]:
    if not isinstance(columns, list | tuple):
        raise ChartError('"columns" must be a list of names or of {"name": ...} objects')
    names = []
    for i, column in enumerate(columns):
        if isinstance(column, str):
            names.append(column)
        elif isinstance(column, Mapping) and isinstance(column.get("name"), str):
            names.append(column["name"])
        else:
            raise ChartError(f'"columns"[{i}] must be a name or an object with a "name"; got {column!r}')
    return names


def _table_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    rows = list(data["rows"])
    names = _column_names(data["columns"]) if "columns" in data else None
    if all(isinstance(r, Mapping) for r in rows):
        frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    elif all(isinstance(r, list | tuple) for r in rows):
        if names is None:
            raise ChartError('rows given as lists need "columns" naming each position')
        for i, row in enumerate(rows):
            if len(row) != len(names):
                raise ChartError(f"row {i} has {len(row)} values but there are {len(names)} columns")
        frame = pd.DataFrame.from_records(rows, columns=names)
    else:
        raise ChartError('"rows" must all be objects or all be lists')
    # Our query tools send non-finite numerics as strings ("NaN"); trust the declared type.
    for column in data.get("columns") or ():
        if isinstance(column, Mapping) and str(column.get("type", "")).lower() in _NUMERIC_SQL_TYPES:
            name = column["name"]
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def _column_frame(data: Mapping[Any, Any]) -> pd.DataFrame:
    lengths = {}
    for name, values in data.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | pd.Series):
            raise ChartError(
                f"column {name!r} must be a list of values, got {type(values).__name__}; pass a list of "
                f'row objects, column -> list, or {{"columns": [...], "rows": [...]}}'
            )
        lengths[name] = len(values)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise ChartError(f"column arrays must all have the same length; got {shown}")
    return pd.DataFrame({k: list(v) for k, v in data.items()})


def _records_frame(data: Sequence[Any]) -> pd.DataFrame:
    rows = list(data)
    if not rows:
        return pd.DataFrame()
    if not all(isinstance(r, Mapping) for r in rows):
        raise ChartError(
            'a list of rows must hold objects like {"region": "North", "revenue": 10}; for list rows '
            'pass {"columns": [...names...], "rows": [...]}'
        )
    return pd.DataFrame.from_records(rows)
