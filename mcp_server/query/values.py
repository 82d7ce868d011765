"""Conversions at the two edges of a query: JSON arguments in, JSON-safe rows out.

Agents speak JSON: a date arrives as "2026-01-31", a money amount as 12.5. asyncpg
wants Python types that match each parameter's PostgreSQL type, so arguments are coerced
after `prepare()` has told us those types. Rows go the other way; converters are chosen
once per column from its type instead of inspecting every value.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

Converter = Callable[[Any], Any]


class ArgumentTypeError(ValueError):
    """An argument cannot be read as the type PostgreSQL expects at its position."""


def _identity(value: Any) -> Any:
    return value


def _number(value: Any) -> Any:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else str(value)


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _interval_seconds(value: Any) -> Any:
    return None if value is None else value.total_seconds()


def _bytes(value: Any) -> Any:
    return None if value is None else base64.b64encode(bytes(value)).decode()


def _json_text(value: Any) -> Any:
    return None if value is None else json.loads(value)


def to_json_value(value: Any) -> Any:
    """Fallback for values of types not known up front (arrays, records, domains)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return _number(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(value)
    if isinstance(value, asyncpg.Path):
        return {"closed": value.is_closed, "points": [to_json_value(point) for point in value.points]}
    if isinstance(value, asyncpg.Polygon):
        return [to_json_value(point) for point in value.points]
    if isinstance(value, list | tuple):  # also Point, Box, Circle, Line, LineSegment
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)


_BY_TYPE: dict[str, Converter] = {
    "int2": _identity,
    "int4": _identity,
    "int8": _identity,
    "bool": _identity,
    "text": _identity,
    "varchar": _identity,
    "bpchar": _identity,
    "name": _identity,
    "float4": _number,
    "float8": _number,
    "numeric": _number,
    "money": _text,
    "date": _iso,
    "timestamp": _iso,
    "timestamptz": _iso,
    "time": _iso,
    "timetz": _iso,
    "uuid": _text,
    "interval": _interval_seconds,
    "bytea": _bytes,
    "json": _json_text,
    "jsonb": _json_text,
    "oid": _identity,
}


def row_converters(type_names: Sequence[str]) -> list[Converter]:
    return [_BY_TYPE.get(name, to_json_value) for name in type_names]


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        return (
            dt.date.fromisoformat(value[:10])
            if len(value) > 10 and value[10] in "T "
            else dt.date.fromisoformat(value)
        )
    return value


def _parse_datetime(value: Any) -> Any:
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)
        return parsed
    return value


def _parse_naive_datetime(value: Any) -> Any:
    parsed = _parse_datetime(value)
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _parse_aware_datetime(value: Any) -> Any:
    parsed = _parse_datetime(value)
    if isinstance(parsed, dt.datetime) and parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed


def _parse_numeric(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float | str):
        return decimal.Decimal(str(value))
    return value


def _parse_int(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an integer")
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parse_float(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return float(value)
    return value


def _parse_uuid(value: Any) -> Any:
    return uuid.UUID(value) if isinstance(value, str) else value


def _parse_text(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return str(value)
    return value


_PARSERS: dict[str, Converter] = {
    "date": _parse_date,
    "timestamp": _parse_naive_datetime,
    "timestamptz": _parse_aware_datetime,
    "numeric": _parse_numeric,
    "int2": _parse_int,
    "int4": _parse_int,
    "int8": _parse_int,
    "float4": _parse_float,
    "float8": _parse_float,
    "uuid": _parse_uuid,
    "text": _parse_text,
    "varchar": _parse_text,
}


def coerce_arguments(type_names: Sequence[str], args: Sequence[Any]) -> list[Any]:
    """Read each JSON argument as its parameter's PostgreSQL type (arrays element-wise)."""
    coerced = []
    for position, (type_name, value) in enumerate(zip(type_names, args, strict=True), start=1):
        element_type = type_name[1:] if type_name.startswith("_") else type_name
        parser = _PARSERS.get(element_type, _identity)
        try:
            if value is None:
                coerced.append(None)
            elif type_name.startswith("_") and isinstance(value, list):
                coerced.append([None if item is None else parser(item) for item in value])
            else:
                coerced.append(parser(value))
        except (ValueError, ArithmeticError) as exc:
            raise ArgumentTypeError(
                f"parameter ${position} must be a {element_type} value; "
                f"got a {type(value).__name__} that does not read as one"
            ) from exc
    return coerced
