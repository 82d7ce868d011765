"""Input checking and coercion shared by the analyses.

Frames arrive from three places: our marts via psycopg (numerics as `Decimal`, dates as `date`), rows
saved in an MCP session (round-tripped through JSON, so dates and numbers may be strings), and data
sets an agent brought itself (foreign column names, "Yes"/"No" flags). These helpers accept all
three and turn every problem into an `AnalysisError` that says what to change.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses.decimals import coerce_decimals as coerce_decimals  # the analyses import it from here
from analyses.results import AnalysisError

TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
MAX_LISTED = 25


def listing(values: Iterable[Any], limit: int = MAX_LISTED) -> str:
    """Comma-separated preview of values for an error message, capped so messages stay readable."""
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return f"{shown}, ... ({len(items)} in all)" if len(items) > limit else shown


def ensure_frame(value: object, name: str) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise AnalysisError(f"'{name}' must be a table (pandas DataFrame), got {type(value).__name__}")
    return value


def require_rows(frame: pd.DataFrame, name: str, filters: Mapping[str, Any] | None = None) -> None:
    if len(frame) == 0:
        if filters:
            raise AnalysisError(
                f"no rows left in '{name}' after applying filters {dict(filters)}; loosen the filters"
            )
        raise AnalysisError(f"'{name}' has no rows; load data before running the analysis")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str, purpose: str = "") -> None:
    """Raise for the first missing column, listing the available ones and the closest spellings."""
    available = [str(c) for c in frame.columns]
    for column in columns:
        if column in frame.columns:
            continue
        hint = ""
        lowered = {c.lower(): c for c in available}
        close = [lowered[column.lower()]] if column.lower() in lowered else []
        close += [c for c in difflib.get_close_matches(column, available, n=3, cutoff=0.6) if c not in close]
        if close:
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)"
        what = f" needed {purpose}" if purpose else ""
        raise AnalysisError(
            f"column '{column}'{what} not found in '{name}'{hint}; available columns: {listing(available)}"
        )


def numeric_column(frame: pd.DataFrame, column: str, name: str, *, min_parsed: float = 0.9) -> pd.Series:
    """A column as float; booleans count as 0/1, numeric text is parsed when almost all of it parses.

    Text like the Kaggle Telco "TotalCharges" (numbers with a few blanks) is accepted, the blanks
    becoming missing; text that is mostly not numbers is an error naming the column.
    """
    series = frame[column]
    if ptypes.is_bool_dtype(series.dtype):
        return series.astype(float)
    if ptypes.is_numeric_dtype(series.dtype):
        return series.astype(float)
    if ptypes.is_datetime64_any_dtype(series.dtype):
        raise AnalysisError(f"column '{column}' in '{name}' holds dates, not numbers; pick a numeric column")
    present = series.dropna()
    if present.map(lambda v: isinstance(v, bool | np.bool_)).all() and len(present):
        return series.map(lambda v: float(v) if v is not None and not pd.isna(v) else np.nan).astype(float)
    text = present.astype(str).str.strip()
    non_blank = text[text != ""]
    parsed = pd.to_numeric(non_blank, errors="coerce")
    if len(non_blank) and parsed.notna().mean() >= min_parsed:
        return pd.to_numeric(series.astype(str).str.strip(), errors="coerce").astype(float)
    examples = listing(non_blank[parsed.isna()].unique()[:5]) if len(non_blank) else "only blanks"
    raise AnalysisError(
        f"column '{column}' in '{name}' is not numeric (values like {examples}); pick a numeric column, "
        "or encode it first"
    )


def binary_outcome(series: pd.Series, positive_label: Any, column: str, name: str) -> pd.Series:
    """The outcome flag as a nullable boolean Series (NA where the value is missing).

    Tolerant on purpose: True matches a boolean column, 0/1 numbers and "true"/"yes"/"1" text;
    any other label is compared exactly, then case-insensitively ("Yes" vs "yes").
    """
    missing = series.isna()
    present = series[~missing]
    label_is_bool = isinstance(positive_label, bool | np.bool_)
    result = pd.Series(pd.NA, index=series.index, dtype="boolean")

    def _fail(reason: str) -> AnalysisError:
        # str() first: cells may be lists or dicts (JSON brought by an agent), which are unhashable.
        observed = listing(sorted(set(map(str, present)))[:MAX_LISTED])
        return AnalysisError(
            f"cannot read '{column}' in '{name}' as a yes/no outcome: {reason}. Observed values: {observed}. "
            "Pass positive_label= the value that marks the positive case (e.g. positive_label='Yes')"
        )

    if ptypes.is_bool_dtype(series.dtype):
        if label_is_bool or str(positive_label).strip().lower() in TRUE_TOKENS | FALSE_TOKENS:
            wanted = bool(positive_label) if label_is_bool else str(positive_label).lower() in TRUE_TOKENS
            result[~missing] = present.astype(bool) == wanted
            return result
        raise _fail(f"the column is boolean, so positive_label must be True or False, not {positive_label!r}")

    if ptypes.is_numeric_dtype(series.dtype):
        values = present.astype(float)
        if label_is_bool:
            if not values.isin([0.0, 1.0]).all():
                raise _fail(
                    "it is numeric with values other than 0 and 1, so positive_label=True is ambiguous"
                )
            result[~missing] = values == float(bool(positive_label))
            return result
        try:
            wanted_number = float(positive_label)
        except (TypeError, ValueError):
            raise _fail(f"the column is numeric but positive_label is {positive_label!r}") from None
        matched = values == wanted_number
        if not matched.any() and values.nunique() >= 2:
            raise _fail(f"no row has the value {positive_label!r}")
        result[~missing] = matched
        return result

    text = present.astype(str).str.strip()
    if label_is_bool:
        lowered = text.str.lower()
        unknown = sorted(set(lowered) - TRUE_TOKENS - FALSE_TOKENS)
        if unknown:
            raise _fail("its values are not true/false or yes/no")
        matched = lowered.isin(TRUE_TOKENS)
        result[~missing] = matched if positive_label else ~matched
        return result
    label = str(positive_label).strip()
    matched = text == label
    if not matched.any():
        matched = text.str.lower() == label.lower()
    if not matched.any() and text.nunique() >= 2:
        raise _fail(f"no row has the value {positive_label!r}")
    result[~missing] = matched
    return result


def month_column(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """A date-like column truncated to the first day of its month (NaT stays NaT)."""
    stamps = datetime_column(frame, column, name)
    return stamps.dt.to_period("M").dt.to_timestamp()


def datetime_column(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    series = frame[column]
    if ptypes.is_datetime64_any_dtype(series.dtype):
        stamps = series
    else:
        stamps = pd.to_datetime(series, errors="coerce", format="mixed")
        if series.notna().any() and stamps.notna().sum() < 0.9 * series.notna().sum():
            raise AnalysisError(
                f"column '{column}' in '{name}' is not a date (values like "
                f"{listing(series.dropna().astype(str).unique()[:5])}); pass ISO dates such as 2024-01-31"
            )
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.astype("datetime64[ns]")


def segment_labels(series: pd.Series) -> pd.Series:
    """Category labels as text so they group, sort and serialise the same whatever the source type."""
    labels = series.map(_label)
    return labels.astype(object)


def _label(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(missing)"
    if isinstance(value, pd.Timestamp | dt.date):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_OPERATORS = {"=", "==", "!=", "<>", ">", ">=", "<", "<=", "in", "not in", "not_in"}


def apply_filters(
    frames: Mapping[str, pd.DataFrame | None], filters: Mapping[str, Any] | None
) -> tuple[dict[str, pd.DataFrame | None], list[str]]:
    """Apply equality/range filters to every frame that has the filtered column.

    Filters that the caller already applied upstream (e.g. in SQL) are idempotent here, so the MCP
    layer can pass them through for the record without double counting. A filter whose column is in
    none of the frames is reported as a warning, not silently dropped.
    Accepted forms: {"col": value}, {"col": [v1, v2]}, {"col": None} (missing), {"col": {">=": v, "<": w}}.
    """
    result: dict[str, pd.DataFrame | None] = dict(frames)
    warnings: list[str] = []
    if not filters:
        return result, warnings
    if not isinstance(filters, Mapping):
        raise AnalysisError(
            "filters must be an object mapping column names to values, e.g. {'location': 'North'}"
        )
    for column, condition in filters.items():
        used = False
        for key, frame in result.items():
            if frame is None or column not in frame.columns:
                continue
            used = True
            mask = _filter_mask(frame[column], condition, column)
            result[key] = frame.loc[mask.to_numpy()]
        if not used:
            warnings.append(
                f"filter on '{column}' was not applied here: no input table has that column (assumed applied "
                "when the data was queried)"
            )
    return result, warnings


def _filter_mask(series: pd.Series, condition: Any, column: str) -> pd.Series:
    if isinstance(condition, Mapping):
        mask = pd.Series(True, index=series.index)
        for op, value in condition.items():
            op_text = str(op).strip().lower()
            if op_text not in _OPERATORS:
                raise AnalysisError(
                    f"filter on '{column}': unknown operator {op!r}; use one of "
                    f"{', '.join(sorted(_OPERATORS))}"
                )
            mask &= _compare(series, op_text, value, column)
        return mask
    if isinstance(condition, list | tuple | set | frozenset):
        return _compare(series, "in", list(condition), column)
    return _compare(series, "=", condition, column)


def _compare(series: pd.Series, op: str, value: Any, column: str) -> pd.Series:
    if op in {"in", "not in", "not_in"}:
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        left, rights = _aligned(series, values)
        mask = left.isin(rights)
        return ~mask if op != "in" else mask
    if value is None:
        return series.isna() if op in {"=", "=="} else series.notna()
    left, (right,) = _aligned(series, [value])
    try:
        if op in {"=", "=="}:
            mask = left == right
        elif op in {"!=", "<>"}:
            mask = left != right
        elif op == ">":
            mask = left > right
        elif op == ">=":
            mask = left >= right
        elif op == "<":
            mask = left < right
        else:
            mask = left <= right
    except TypeError:
        raise AnalysisError(f"filter on '{column}': cannot compare its values with {value!r}") from None
    return mask.fillna(False).astype(bool)


def _aligned(series: pd.Series, values: list[Any]) -> tuple[pd.Series, list[Any]]:
    """Bring column and filter values to a comparable type (dates, booleans given as text, numbers)."""
    if ptypes.is_bool_dtype(series.dtype):
        return series, [v if not isinstance(v, str) else v.strip().lower() in TRUE_TOKENS for v in values]
    if ptypes.is_datetime64_any_dtype(series.dtype) or _looks_like_dates(series):
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        return stamps, [pd.Timestamp(v) if v is not None else pd.NaT for v in values]
    if ptypes.is_numeric_dtype(series.dtype):
        converted = []
        for v in values:
            try:
                converted.append(float(v))
            except (TypeError, ValueError):
                converted.append(v)
        return series.astype(float), converted
    return series, values


def _looks_like_dates(series: pd.Series) -> bool:
    if not ptypes.is_object_dtype(series.dtype):
        return False
    sample = series.dropna().head(20)
    return bool(len(sample)) and all(isinstance(v, dt.date) for v in sample)


def time_range(stamps: pd.Series) -> tuple[str, str] | None:
    present = stamps.dropna()
    if present.empty:
        return None
    return present.min().date().isoformat(), present.max().date().isoformat()
