"""Reading a frame's columns the way every chart type needs them.

Which column the caller meant (forgiving case and near-misses), whether a column reads as
numbers, dates or category labels, and how its values print on an axis. Shared by the
plot builders so a bar and a line chart agree on what "numeric" or "a month" means.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses.charts.data import ChartError

Kind = Literal["number", "time", "category"]

_MISSING_WORDS = frozenset({"", "nan", "none", "null", "n/a", "na", "inf", "-inf", "infinity", "-infinity"})
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?)?"
)


def resolve(frame: pd.DataFrame, name: str, role: str) -> str:
    if not isinstance(name, str):
        raise ChartError(f"{role} must be a column name, got {name!r}")
    if name in frame.columns:
        return name
    folded = [c for c in frame.columns if c.casefold() == name.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    close = difflib.get_close_matches(name, list(frame.columns), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ChartError(
        f"unknown column {name!r} for {role}; available columns: {listing(frame.columns)}.{hint}"
    )


def resolve_many(frame: pd.DataFrame, names: str | Sequence[str] | None, role: str) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    resolved = [resolve(frame, n, role) for n in names]
    return list(dict.fromkeys(resolved))


def listing(values: Any, limit: int = 30) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def numeric_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Columns that read as numbers, including numeric text that came through JSON."""
    return [c for c in frame.columns if c not in exclude and classify(frame[c])[0] == "number"]


def numeric(frame: pd.DataFrame, column: str, purpose: str) -> pd.Series:
    """Floats with NaN for missing/non-finite; text that is not a number is an error, not silently NaN,
    because a chart of a mostly-text column would mislead."""
    series = frame[column]
    if ptypes.is_bool_dtype(series):
        return series.astype(float)
    if ptypes.is_numeric_dtype(series):
        return series.astype(float).replace([np.inf, -np.inf], np.nan)
    if not ptypes.is_datetime64_any_dtype(series):
        values = pd.to_numeric(series, errors="coerce")
        unparsed = series[series.notna() & values.isna()]
        bad = unparsed[~unparsed.astype(str).str.strip().str.lower().isin(_MISSING_WORDS)]
        if bad.empty:
            return values.astype(float).replace([np.inf, -np.inf], np.nan)
        examples = ", ".join(repr(v) for v in list(dict.fromkeys(bad.astype(str)))[:3])
    else:
        examples = f"dates such as {series.dropna().iloc[0]!s}" if series.notna().any() else "dates"
    candidates = numeric_columns(frame) or ["(none)"]
    raise ChartError(
        f"column {column!r} must be numeric for {purpose}, but holds values like {examples}; "
        f"numeric columns: {listing(candidates)}"
    )


def classify(series: pd.Series) -> tuple[Kind, pd.Series]:
    """Decide how an x column orders: numbers and dates ascend, anything else is a category label."""
    if ptypes.is_bool_dtype(series):
        return "category", series.map(str, na_action="ignore")
    if ptypes.is_numeric_dtype(series):
        return "number", series.astype(float).replace([np.inf, -np.inf], np.nan)
    if ptypes.is_datetime64_any_dtype(series):
        # Keep the wall-clock time the data was recorded in; labels in UTC would surprise.
        return "time", series.dt.tz_localize(None) if series.dt.tz is not None else series
    present = series.dropna()
    if present.empty:
        return "category", series
    if present.map(lambda v: isinstance(v, dt.date)).all():
        return "time", _naive(pd.to_datetime(series, utc=True))
    text = present.astype(str).str.strip()
    text = text[~text.str.lower().isin(_MISSING_WORDS)]
    if text.empty:
        return "category", series.map(str, na_action="ignore")
    if text.str.fullmatch(_ISO_DATE).all():
        parsed = pd.to_datetime(
            series.map(str, na_action="ignore"), format="ISO8601", utc=True, errors="coerce"
        )
        return "time", _naive(parsed)
    if (
        not present.map(lambda v: isinstance(v, bool)).any()
        and pd.to_numeric(text, errors="coerce").notna().all()
    ):
        numbers_ = pd.to_numeric(series, errors="coerce").astype(float)
        return "number", numbers_.replace([np.inf, -np.inf], np.nan)
    return "category", series.map(str, na_action="ignore")


def _naive(series: pd.Series) -> pd.Series:
    """Parsed text with mixed offsets has no common wall clock, so it is shown in UTC."""
    if getattr(series.dt, "tz", None) is not None:
        return series.dt.tz_convert(None)
    return series


def key_labels(index: pd.Index, kind: Kind) -> list[str]:
    if kind == "time":
        stamps = pd.DatetimeIndex(index)
        midnight = bool(((stamps.hour == 0) & (stamps.minute == 0) & (stamps.second == 0)).all())
        if not midnight:
            return list(stamps.strftime("%Y-%m-%d %H:%M"))
        return list(stamps.strftime("%Y-%m" if bool((stamps.day == 1).all()) else "%Y-%m-%d"))
    if kind == "number":
        return [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in index]
    return [str(v) for v in index]


def natural(kind: Kind) -> Callable[[str], Any]:
    """Sort key for labels already rendered by `key_labels`: numbers numerically, dates as ISO text."""
    if kind == "number":
        return float
    return str


def sort_key(kind: Kind) -> Callable[[pd.Index], pd.Index] | None:
    if kind == "category":
        return lambda index: index.map(lambda v: str(v).casefold())
    return None


def default_x(frame: pd.DataFrame, prefer: Kind) -> str:
    if frame.columns.empty:
        raise ChartError("data has no columns")
    for column in frame.columns:
        kind, _ = classify(frame[column].head(200))
        if kind == prefer:
            return column
    return frame.columns[0]


def drop_note(count: int, what: str) -> list[str]:
    if count == 1:
        what = re.sub(r"\b(row|value)s\b", r"\1", what, count=1)
    return [f"{count:,} {what} dropped"] if count else []
