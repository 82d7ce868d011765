"""The one `Decimal` → float coercion: analyses, charts and the warehouse's frames all use this.

psycopg and asyncpg return NUMERIC as `Decimal`, which pandas keeps as opaque `object`
columns that statistics and plotting mishandle. Three places used to convert them, each
with its own rule (first value only, every value, sampled values). They now share this one.

Why it lives here: `analyses` is the lower layer. It imports nothing from the platform
(no warehouse, Dagster or MCP; a test enforces that), so `warehouse.frames` may import it,
while the reverse would break that rule. The module itself needs only pandas.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from pandas.api import types as ptypes


def coerce_decimals(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns that hold only numbers (psycopg returns NUMERIC as Decimal) become floats.

    Every present value must be a number, so a column of text that merely starts with one
    stays as it is; booleans are numbers to Python, but a column of flags stays flags.
    Returns `frame` itself when nothing changes, otherwise a copy: a caller's frame is
    never modified.
    """
    converted: dict[str, pd.Series] = {}
    for column in frame.columns:
        series = frame[column]
        if not ptypes.is_object_dtype(series.dtype):
            continue
        sample = series.dropna()
        if not sample.empty and all(_is_number(v) for v in sample):
            converted[column] = pd.to_numeric(series, errors="coerce").astype(float)
    if not converted:
        return frame
    frame = frame.copy()
    for column, series in converted.items():
        frame[column] = series
    return frame


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool | np.bool_)
