"""Rows in, a file out, one batch at a time: CSV, Parquet and XLSX for `export_result`.

Each writer takes batches of asyncpg records as the cursor delivers them and holds none after
writing it, so an export's memory is one batch whatever its size. Values are written exactly:
numerics as their decimal text in CSV and Parquet (Parquet has no arbitrary-precision type that
every reader shares), dates and times in ISO 8601, NULL as an empty CSV field / a Parquet null.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from mcp_server.query.values import to_json_value

MIME_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


class ExportWriter(Protocol):
    def write(self, rows: Sequence[Sequence[Any]]) -> None: ...
    def close(self) -> None: ...


def text(value: Any) -> str:
    """A value as exact text (CSV cells; the Parquet columns kept as text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal | int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    converted = to_json_value(value)
    return converted if isinstance(converted, str) else json.dumps(converted, ensure_ascii=False)


class CsvWriter:
    def __init__(self, path: Path, columns: list[str], _types: list[str]) -> None:
        self._file = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(columns)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        self._csv.writerows([text(value) for value in row] for row in rows)

    def close(self) -> None:
        self._file.close()


_ARROW: dict[str, pa.DataType] = {
    "int2": pa.int64(),
    "int4": pa.int64(),
    "int8": pa.int64(),
    "float4": pa.float64(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


class ParquetWriter:
    """One row group per batch; columns typed from PostgreSQL's types, the rest as text."""

    def __init__(self, path: Path, columns: list[str], types: list[str]) -> None:
        self._types = [_ARROW.get(name, pa.string()) for name in types]
        self._schema = pa.schema(
            [pa.field(name, kind) for name, kind in zip(_unique(columns), self._types, strict=True)]
        )
        self._writer = pq.ParquetWriter(path, self._schema)

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        arrays = []
        for index, kind in enumerate(self._types):
            values = [row[index] for row in rows]
            if kind == pa.string():
                values = [None if v is None else text(v) for v in values]
            elif kind == pa.timestamp("us", tz="UTC"):
                values = [None if v is None else v.astimezone(dt.UTC) for v in values]
            arrays.append(pa.array(values, type=kind))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


class XlsxWriter:
    """constant_memory: each row is flushed to disk once the next one starts."""

    def __init__(self, path: Path, columns: list[str], _types: list[str]) -> None:
        self._book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
        self._sheet = self._book.add_worksheet("export")
        self._sheet.write_row(0, 0, columns)
        self._row = 1

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self._sheet.write_row(self._row, 0, [_cell(value) for value in row])
            self._row += 1

    def close(self) -> None:
        self._book.close()


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)  # Excel keeps numbers as doubles
    return text(value)


def _unique(columns: list[str]) -> list[str]:
    """Parquet needs distinct column names; a repeated one gets a suffix (`n`, `n_2`)."""
    seen: dict[str, int] = {}
    names = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


WRITERS: dict[str, type[CsvWriter] | type[ParquetWriter] | type[XlsxWriter]] = {
    "csv": CsvWriter,
    "parquet": ParquetWriter,
    "xlsx": XlsxWriter,
}
