"""Record-level rules, checked column by column on a whole chunk at once (vectorised).

Each rule yields a boolean mask over the chunk and, only for the records it fails, a
reason naming the column, the rule and the offending value. A record that fails any rule
is kept aside (one reject per record, every reason joined); the others come out typed and
ready for COPY. Rules that need the warehouse (foreign keys, events before signup,
duplicate keys) run later in SQL on the staged rows: see `warehouse/importing/loader.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from warehouse.importing.mapping import EXTRA_FIELDS_COLUMN, ColumnPlan
from warehouse.importing.source import RecordChunk
from warehouse.raw_schema import ColumnSpec, TableSpec

_UUID = r"\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?"
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_EARLIEST = pd.Timestamp("1900-01-01")
_VALUE_PREVIEW = 60
_CAPACITY = 1_000_000  # a maximum this large is the column type's limit, not a business rule


@dataclass(frozen=True)
class Reject:
    label: str
    index: int
    reason: str
    rules: list[str]
    record: str  # JSON text of the record as read


@dataclass
class ValidatedChunk:
    rows: pd.DataFrame  # raw columns (typed) + _index + _label, in TableSpec order
    rejects: list[Reject]


@dataclass
class _Problems:
    """Failing masks with their reason makers, collected over one chunk."""

    size: int
    found: list[tuple[np.ndarray, Callable[[int], str], str]]

    def add(self, mask: Any, message: Callable[[int], str], rule: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.found.append((mask, message, rule))

    def any(self) -> np.ndarray:
        bad = np.zeros(self.size, dtype=bool)
        for mask, _, _ in self.found:
            bad |= mask
        return bad


def _map(series: pd.Series, function: Callable[[Any], Any]) -> pd.Series:
    """Series.map without dtype inference: pandas would turn the None results into NaN."""
    return pd.Series([function(v) for v in series], index=series.index, dtype=object)


def _preview(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= _VALUE_PREVIEW else text[: _VALUE_PREVIEW - 1] + "…")


def _present(series: pd.Series) -> pd.Series:
    """Normalised values: text stripped, empty text and NaN as None; native values kept."""

    def clean(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            return None
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    if _all_text(series):
        # The common case (CSV, TSV, PDF): vectorised string operations, no Python loop.
        text = series.astype("string").str.strip()
        return _objects(text.mask(text == ""))
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return _map(series, clean)
    return _objects(series)


def _all_text(series: pd.Series) -> bool:
    return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")


def _objects(series: pd.Series) -> pd.Series:
    """Object dtype with None for every missing value (the form the rules below expect)."""
    values = series.astype(object).to_numpy(copy=True)
    values[pd.isna(values)] = None
    return pd.Series(values, index=series.index, dtype=object)


def _apply_value_map(values: pd.Series, pairs: dict[str, Any]) -> pd.Series:
    def mapped(value: Any) -> Any:
        if value is None:
            return None
        key = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return pairs.get(key, value)

    return _map(values, mapped)


def _parse(
    column: ColumnSpec, values: pd.Series, date_format: str | None, problems: _Problems, now: pd.Timestamp
) -> pd.Series:
    """Typed values of one column; failures go into `problems` and become missing."""
    name = column.name
    present = values.notna().to_numpy()
    kind = column.kind

    if kind == "uuid":
        text = values.astype("string").str.strip().str.lower()
        ok = text.str.fullmatch(_UUID).fillna(False).to_numpy(dtype=bool)
        bad = present & ~ok
        problems.add(bad, lambda i: f"{name}: not a UUID, got {_preview(values.iat[i])}", f"{name}:uuid")
        parsed = text.where(pd.Series(ok, index=values.index))
        odd = ok & (text.str.len() != 36).fillna(False).to_numpy(dtype=bool)
        if odd.any():  # braces or no hyphens: rewrite those few in the canonical form
            clean = text[odd].str.replace(r"[{}\-]", "", regex=True)
            parsed[odd] = (
                clean.str[:8] + "-" + clean.str[8:12] + "-" + clean.str[12:16] + "-" + clean.str[16:20] + "-"
            ) + clean.str[20:]

    elif kind == "timestamp":
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            stamps = values
        else:
            as_text = values
            if not _all_text(values):
                as_text = _map(values, lambda v: v.isoformat() if isinstance(v, dt.date) else v)
            stamps = pd.to_datetime(as_text, format=date_format or "ISO8601", errors="coerce", utc=True)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        unparsed = present & stamps.isna().to_numpy()
        expected = f"a date as {date_format}" if date_format else "an ISO 8601 date or timestamp"
        problems.add(
            unparsed, lambda i: f"{name}: not {expected}, got {_preview(values.iat[i])}", f"{name}:timestamp"
        )
        future = (stamps > now + pd.Timedelta(days=1)).fillna(False).to_numpy(dtype=bool)
        problems.add(future, lambda i: f"{name}: in the future, got {stamps.iat[i]}", f"{name}:future")
        ancient = (stamps < _EARLIEST).fillna(False).to_numpy(dtype=bool)
        problems.add(ancient, lambda i: f"{name}: before 1900, got {stamps.iat[i]}", f"{name}:range")
        parsed = stamps.where(~pd.Series(future | ancient, index=values.index))

    elif kind in ("integer", "decimal"):
        if pd.api.types.infer_dtype(values, skipna=True) in ("boolean", "mixed"):
            values = _map(values, lambda v: None if isinstance(v, bool) else v)
        numbers = pd.to_numeric(values, errors="coerce")
        numbers = numbers.where(np.isfinite(numbers.astype(float)))
        unparsed = present & numbers.isna().to_numpy()
        what = "a whole number" if kind == "integer" else "a number"
        problems.add(unparsed, lambda i: f"{name}: not {what}, got {_preview(values.iat[i])}", f"{name}:type")
        fractional = np.zeros(len(values), dtype=bool)
        if kind == "integer":
            fractional = (numbers.notna() & (numbers % 1 != 0)).to_numpy(dtype=bool)
            problems.add(
                fractional,
                lambda i: f"{name}: not a whole number, got {_preview(values.iat[i])}",
                f"{name}:type",
            )
        low = np.zeros(len(values), dtype=bool)
        high = np.zeros(len(values), dtype=bool)
        if column.minimum is not None:
            low = (numbers < column.minimum).fillna(False).to_numpy(dtype=bool)
        if column.maximum is not None:
            high = (numbers > column.maximum).fillna(False).to_numpy(dtype=bool)
        for mask, bound in ((low, _low_text(column)), (high, _high_text(column))):
            problems.add(
                mask & ~fractional,
                lambda i, b=bound: f"{name}: must be {b}, got {_preview(values.iat[i])}",
                f"{name}:range",
            )
        out_of_range = fractional | low | high
        numbers = numbers.where(~pd.Series(out_of_range, index=values.index))
        if kind == "integer":
            parsed = numbers.round().astype("Int64")
        else:
            parsed = numbers.astype(float).round(column.scale or 0)

    elif kind == "boolean":

        def as_bool(value: Any) -> Any:
            if value is None or isinstance(value, bool | np.bool_):
                return value
            text = str(value).strip().lower()
            if text.endswith(".0"):
                text = text[:-2]
            return True if text in _TRUE else False if text in _FALSE else "?"

        flags = _map(values, as_bool)
        bad = (flags == "?").to_numpy(dtype=bool)
        problems.add(
            bad, lambda i: f"{name}: not true/false, got {_preview(values.iat[i])}", f"{name}:boolean"
        )
        parsed = flags.where(~pd.Series(bad, index=values.index)).astype(object)

    else:  # text
        text = values if _all_text(values) else _map(values, lambda v: None if v is None else str(v))
        if column.choices:
            canonical = {c.lower(): c for c in column.choices}
            matched = _objects(text.astype("string").str.lower().map(canonical))
            bad = present & matched.isna().to_numpy()
            allowed = ", ".join(column.choices)
            problems.add(
                bad,
                lambda i: f"{name}: must be one of {allowed}, got {_preview(values.iat[i])}",
                f"{name}:allowed",
            )
            parsed = matched.astype(object)
        else:
            parsed = text
        if column.max_length:
            too_long = (
                (text.astype("string").str.len() > column.max_length).fillna(False).to_numpy(dtype=bool)
            )
            problems.add(
                too_long,
                lambda i: (
                    f"{name}: longer than {column.max_length} characters, got {_preview(values.iat[i])}"
                ),
                f"{name}:length",
            )
            parsed = parsed.where(~pd.Series(too_long, index=values.index))
    return parsed


def _number(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if x >= 10_000 else f"{x:g}"


def _low_text(column: ColumnSpec) -> str:
    """Business ranges read "between a and b"; a lone minimum "at least a"."""
    if column.minimum is not None and column.maximum is not None and column.maximum < _CAPACITY:
        return f"between {_number(column.minimum)} and {_number(column.maximum)}"
    return f"at least {_number(column.minimum or 0)}"


def _high_text(column: ColumnSpec) -> str:
    if column.maximum is not None and column.maximum >= _CAPACITY:
        return f"at most {_number(column.maximum)} (the column's capacity)"
    return _low_text(column)


def _record_json(row: dict[str, Any]) -> str:
    def plain(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
            return None
        if isinstance(value, str | int | float | bool):
            return value
        if isinstance(value, np.generic):
            return value.item()
        return str(value)

    return json.dumps({str(k): plain(v) for k, v in row.items()}, ensure_ascii=False, default=str)


def output_columns(spec: TableSpec, plan: ColumnPlan) -> list[str]:
    """Raw columns an import writes: what the file or the mapping provides (churn columns as a pair)."""
    provided = set(plan.provided)
    if spec.name == "customers" and provided & {"is_churned", "churn_date"}:
        provided |= {"is_churned", "churn_date"}
    return [c for c in spec.column_names if c in provided]


def validate_chunk(
    chunk: RecordChunk, spec: TableSpec, plan: ColumnPlan, now: pd.Timestamp | None = None
) -> ValidatedChunk:
    """Typed good rows and one Reject per bad record of `chunk`."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    frame = chunk.frame.reset_index(drop=True)
    size = len(frame)
    problems = _Problems(size, [])
    typed: dict[str, pd.Series] = {}
    for name in plan.provided:
        column = spec.column(name)
        if name in plan.sources:
            values = _present(frame[plan.sources[name]])
        else:
            values = pd.Series([plan.constants[name]] * size, dtype=object)
        if name in plan.value_maps:
            values = _apply_value_map(values, plan.value_maps[name])
        parsed = _parse(column, values, plan.date_formats.get(name), problems, now)
        if column.required:
            missing = (values.isna() & parsed.isna()).to_numpy(dtype=bool)
            problems.add(missing, lambda i, n=name: f"{n}: required, missing", f"{name}:required")
        typed[name] = parsed.reset_index(drop=True)

    if spec.name == "customers":
        _customer_rules(typed, problems, size)

    if EXTRA_FIELDS_COLUMN in frame.columns:
        extra = frame[EXTRA_FIELDS_COLUMN]
        problems.add(
            extra.notna().to_numpy(),
            lambda i: f"record: more fields than the header, extra {_preview(extra.iat[i])}",
            "record:fields",
        )

    bad = problems.any()
    rejects: list[Reject] = []
    if bad.any():
        original = frame.drop(columns=[EXTRA_FIELDS_COLUMN], errors="ignore")
        for i in np.flatnonzero(bad):
            reasons = [(message(i), rule) for mask, message, rule in problems.found if mask[i]]
            rejects.append(
                Reject(
                    label=chunk.labels[i],
                    index=int(chunk.index[i]),
                    reason="; ".join(r for r, _ in reasons),
                    rules=sorted({rule for _, rule in reasons}),
                    record=_record_json(
                        {**original.iloc[i].to_dict(), **_extra(frame, i)},
                    ),
                )
            )
    keep = ~bad
    columns = output_columns(spec, plan)
    rows = pd.DataFrame({name: typed[name][keep].reset_index(drop=True) for name in columns})
    rows["_index"] = np.asarray(chunk.index)[keep]
    rows["_label"] = np.asarray(chunk.labels, dtype=object)[keep]
    return ValidatedChunk(rows=rows, rejects=rejects)


def _extra(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    if EXTRA_FIELDS_COLUMN in frame.columns and frame[EXTRA_FIELDS_COLUMN].iat[i] is not None:
        return {"(extra fields)": frame[EXTRA_FIELDS_COLUMN].iat[i]}
    return {}


def _customer_rules(typed: dict[str, pd.Series], problems: _Problems, size: int) -> None:
    """Churn consistency (the seed's CHECK): churn_date is set if and only if is_churned."""
    if "is_churned" not in typed and "churn_date" not in typed:
        return
    churn_date = typed.get("churn_date", pd.Series([pd.NaT] * size, dtype="datetime64[ns]"))
    flag = typed.get("is_churned", pd.Series([None] * size, dtype=object))
    has_date = churn_date.notna().to_numpy()
    # A missing flag follows the date (a CRM export often has only the churn date).
    flag = flag.where(flag.notna(), pd.Series(has_date)).astype(bool)
    churned = flag.to_numpy(dtype=bool)
    problems.add(
        churned & ~has_date,
        lambda i: "churn_date: required when is_churned is true",
        "churn_date:consistency",
    )
    problems.add(
        ~churned & has_date,
        lambda i: f"is_churned: false but churn_date is set ({churn_date.iat[i]})",
        "is_churned:consistency",
    )
    if "created_at" in typed:
        created = typed["created_at"]
        early = (churn_date < created).fillna(False).to_numpy(dtype=bool)
        problems.add(
            early,
            lambda i: f"churn_date: before created_at ({churn_date.iat[i]} < {created.iat[i]})",
            "churn_date:order",
        )
    typed["is_churned"] = flag.astype(object)
    typed["churn_date"] = churn_date
