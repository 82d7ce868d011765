"""Database rows → pandas frames with analysis-friendly dtypes.

Both drivers return `Decimal` for numeric columns and `datetime.date` for dates, which
pandas keeps as slow `object` columns that statistics code mishandles. One normaliser,
used by the Dagster precompute and by the MCP server, so both feed the analyses the same
dtypes. The Decimal rule is the analyses' own (`analyses.decimals`): the warehouse may
import from `analyses`, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analyses.decimals import coerce_decimals


def rows_to_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    return normalize_frame(frame)


def normalize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = coerce_decimals(frame)
    for name in frame.columns:
        series = frame[name]
        if series.dtype != object:
            continue
        sample = series.dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, dt.datetime | dt.date):
            frame[name] = pd.to_datetime(series, errors="coerce", utc=False)
        elif isinstance(first, uuid.UUID):
            frame[name] = series.map(lambda v: None if v is None else str(v))
    return frame
