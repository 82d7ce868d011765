"""Conversion of pandas/numpy values into plain JSON values (agents read `json.dumps` output)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """Recursively turn a value into something `json.dumps(..., allow_nan=False)` accepts."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Index | pd.Series):
        return [json_safe(v) for v in value]
    return json_scalar(value)


def json_scalar(value: Any) -> Any:
    """One scalar: numbers stay numbers, missing markers become None, time values ISO strings."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None and stamp == stamp.normalize():
            return stamp.date().isoformat()
        return stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, pd.Period | pd.Interval | pd.Timedelta | dt.timedelta):
        return str(value)
    if isinstance(value, np.datetime64):
        return json_scalar(pd.Timestamp(value)) if not np.isnat(value) else None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def round_sig(value: float | None, digits: int = 3) -> float | None:
    """Significant-figure rounding, for p-values: 4 decimals would turn 3e-12 into a misleading 0."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


def records(
    frame: pd.DataFrame,
    *,
    decimals: int = 4,
    money_columns: tuple[str, ...] = (),
    sig_columns: tuple[str, ...] = ("p_value", "p_adjusted"),
) -> list[dict[str, Any]]:
    """Table rows as JSON-safe dicts, floats rounded so the agent sees signal, not float noise."""
    rows: list[dict[str, Any]] = []
    columns = list(frame.columns)
    for raw in frame.itertuples(index=False, name=None):
        row: dict[str, Any] = {}
        for column, cell in zip(columns, raw, strict=True):
            value = json_scalar(cell)
            if isinstance(value, float):
                if column in sig_columns:
                    value = round_sig(value)
                else:
                    value = round(value, 2 if column in money_columns else decimals)
            row[str(column)] = value
        rows.append(row)
    return rows
