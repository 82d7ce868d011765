"""Pairwise Pearson/Spearman correlations with p-values, intervals and multiple-testing control.

With ten columns there are 45 pairs, so a handful would look "significant" at 5% by chance alone;
significance is therefore judged on Holm-adjusted p-values (the raw ones are reported too).

`correlation` runs three steps: `_checked_inputs` (parameters and table -> `AnalysisError`s and the
columns as numbers), `_computed` (columns -> `CorrelationFindings`) and `_summary` / `_how_to_read`
(numbers -> words).
"""

from __future__ import annotations

import itertools
import math
import warnings as pywarnings
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from scipy import stats

from analyses._checks import ID_PATTERN, as_list, filtered_inputs, require_level
from analyses._frame import (
    FALSE_TOKENS,
    TRUE_TOKENS,
    ensure_frame,
    listing,
    numeric_column,
    require_columns,
    require_rows,
)
from analyses._json import records
from analyses._stats import correlation_strength, fisher_z_interval, holm_adjust
from analyses.results import AnalysisError, AnalysisResult, Findings
from analyses.spec import FILTERS_DOC, AnalysisSpec, FrameSpec, MartSource, SummaryChart

SIGNIFICANT_COLUMNS = ["column_a", "column_b", "r", "p_value", "p_adjusted", "n", "strength", "direction"]


def correlation(
    df: pd.DataFrame,
    *,
    method: Literal["pearson", "spearman"] = "pearson",
    columns: list[str] | None = None,
    alpha: float = 0.05,
    filters: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Correlation of every pair of numeric columns, on the rows where both values are present.

    Default columns: numeric and boolean ones (booleans as 0/1), except id-like and constant columns.
    Explicit columns may also be yes/no text (mapped to 1/0) or numbers stored as text.
    """
    inputs = _checked_inputs(df, method=method, columns=columns, alpha=alpha, filters=filters)
    findings = _computed(inputs, method=method, alpha=alpha)
    return findings.result(
        "correlation",
        summary=_summary(findings, method, alpha),
        how_to_read=_how_to_read(findings, method, alpha),
        filters=filters,
    )


# ---------------------------------------------------------------------------------------- validate


@dataclass(frozen=True, eq=False)
class CorrelationInputs:
    """The columns to correlate as float Series, with notes for the reader and warnings so far."""

    values: dict[str, pd.Series]
    rows: int
    notes: list[str]
    warnings: list[str]


def _checked_inputs(
    df: pd.DataFrame,
    *,
    method: str,
    columns: list[str] | None,
    alpha: float,
    filters: dict[str, Any] | None,
) -> CorrelationInputs:
    """Every check that needs no computed number, in the order the caller should fix them."""
    df = ensure_frame(df, "data")
    if method not in ("pearson", "spearman"):
        raise AnalysisError(f"method must be 'pearson' or 'spearman', got {method!r}")
    require_level(alpha, "alpha", "0.05")
    require_rows(df, "data")
    columns = as_list(columns)
    if columns is not None:
        columns = list(dict.fromkeys(columns))
        require_columns(df, columns, "data", "to correlate (columns)")
    filtered = filtered_inputs("data", df, filters)
    data, warnings = filtered.primary, filtered.warnings

    notes: list[str] = []
    if columns is not None:
        values = {column: _explicit_numeric(data, column, notes) for column in columns}
    else:
        values = _default_numeric(data, notes)
    for name in list(values):
        if values[name].nunique(dropna=True) < 2:
            warnings.append(f"'{name}' is constant (or empty), so it has no correlation; left out")
            del values[name]
    if len(values) < 2:
        available = [str(c) for c in data.columns]
        raise AnalysisError(
            f"correlation needs at least 2 numeric columns with varying values, found {len(values)} "
            f"({listing(values) or 'none'}); available columns: {listing(available)}"
        )
    return CorrelationInputs(values=values, rows=len(data), notes=notes, warnings=warnings)


def _default_numeric(data: pd.DataFrame, notes: list[str]) -> dict[str, pd.Series]:
    """Numeric and boolean columns except id-like ones; the text columns passed over are noted."""
    values: dict[str, pd.Series] = {}
    skipped: list[str] = []
    for column in data.columns:
        series = data[column]
        name = str(column)
        if ID_PATTERN.search(name):
            continue
        if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
            values[name] = series.astype(float)
        else:
            skipped.append(name)
    if skipped:
        notes.append(
            f"non-numeric columns not used: {listing(skipped, 15)} (name them in columns= to "
            "include yes/no "
            "or numeric-text columns)"
        )
    return values


def _explicit_numeric(data: pd.DataFrame, column: str, notes: list[str]) -> pd.Series:
    """A requested column as numbers: numeric, boolean, yes/no text or numbers stored as text."""
    series = data[column]
    if not (ptypes.is_numeric_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype)):
        text = series.dropna().astype(str).str.strip().str.lower()
        distinct = set(text.unique())
        if distinct and distinct <= TRUE_TOKENS | FALSE_TOKENS and not distinct <= {"0", "1", "0.0", "1.0"}:
            notes.append(f"'{column}' was read as yes/no: 1 = {'/'.join(sorted(distinct & TRUE_TOKENS))}.")
            mapped = (
                series.astype(str).str.strip().str.lower().map(lambda v: 1.0 if v in TRUE_TOKENS else 0.0)
            )
            return mapped.where(series.notna()).astype(float)
    try:
        values = numeric_column(data, column, "data")
    except AnalysisError as exc:
        raise AnalysisError(f"cannot correlate '{column}': {exc}") from None
    if not (ptypes.is_numeric_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype)):
        lost = int(values.isna().sum() - series.isna().sum())
        if lost:
            notes.append(
                f"'{column}' is text holding numbers; {lost} value(s) that are not numbers were ignored."
            )
    return values


# ----------------------------------------------------------------------------------------- compute


@dataclass(kw_only=True, eq=False)
class CorrelationFindings(Findings):
    """All pairs, the significant ones strongest first, and the notes the reading guide carries."""

    matrix: pd.DataFrame
    significant: pd.DataFrame
    notes: list[str]


def _computed(inputs: CorrelationInputs, *, method: str, alpha: float) -> CorrelationFindings:
    values, warnings = inputs.values, list(inputs.warnings)
    rows = []
    for a, b in itertools.combinations(values, 2):
        pair = _pair(values[a], values[b], method, alpha)
        if not pair.tested:
            warnings.append(
                f"{a} vs {b}: fewer than 3 rows with both values (or no variation), no correlation"
            )
        rows.append(
            {
                "column_a": a,
                "column_b": b,
                "r": pair.r,
                "ci_low": pair.ci_low,
                "ci_high": pair.ci_high,
                "p_value": pair.p_value,
                "n": pair.n,
            }
        )
    matrix = pd.DataFrame(rows)
    tested = matrix["p_value"].notna()
    matrix["p_adjusted"] = np.nan
    if tested.any():
        matrix.loc[tested, "p_adjusted"] = holm_adjust(matrix.loc[tested, "p_value"].to_numpy())
    matrix["strength"] = matrix["r"].map(lambda r: correlation_strength(r) if pd.notna(r) else None)
    significant = matrix.loc[matrix["p_adjusted"] < alpha].copy()
    significant["direction"] = np.where(significant["r"] > 0, "positive", "negative")
    significant = significant.reindex(significant["r"].abs().sort_values(ascending=False).index)
    small = matrix.loc[(matrix["n"] > 0) & (matrix["n"] < 30)]
    if len(small):
        warnings.append(
            f"{len(small)} pair(s) rest on fewer than 30 rows with both values; their r is unstable"
        )
    return CorrelationFindings(
        rows=inputs.rows,
        tables={
            "matrix": records(matrix),
            "significant_pairs": records(significant[SIGNIFICANT_COLUMNS]),
        },
        warnings=warnings,
        columns_used=list(values),
        matrix=matrix,
        significant=significant,
        notes=inputs.notes,
    )


class PairStats(NamedTuple):
    """r with its interval and p on the `n` rows where both values are present (NaN if untested)."""

    r: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    tested: bool


def _pair(a: pd.Series, b: pd.Series, method: str, alpha: float) -> PairStats:
    x, y = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    n = int(ok.sum())
    if n < 3 or np.unique(x[ok]).size < 2 or np.unique(y[ok]).size < 2:
        return PairStats(math.nan, math.nan, math.nan, math.nan, n, tested=False)
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        result = stats.pearsonr(x[ok], y[ok]) if method == "pearson" else stats.spearmanr(x[ok], y[ok])
    r, p = float(result.statistic), float(result.pvalue)
    low, high = fisher_z_interval(r, n, 1 - alpha, spearman=method == "spearman")
    return PairStats(r, low, high, p, n, tested=True)


# ----------------------------------------------------------------------------------------- narrate


def _label(method: str) -> str:
    return "Pearson" if method == "pearson" else "Spearman"


def _summary(findings: CorrelationFindings, method: str, alpha: float) -> str:
    matrix, significant, label = findings.matrix, findings.significant, _label(method)
    if len(significant):
        top = significant.iloc[0]
        return (
            f"{len(significant)} of {len(matrix)} column pairs are significantly correlated ({label}, "
            f"Holm-adjusted p < {alpha:g}); strongest: {top['column_a']} vs {top['column_b']} r = "
            f"{top['r']:.2f} "
            f"({top['strength']}, {top['direction']}, n={int(top['n']):,})."
        )
    return (
        f"None of the {len(matrix)} column pairs is significantly correlated ({label}, Holm-adjusted "
        f"p < {alpha:g}) among {len(findings.columns_used)} columns."
    )


def _how_to_read(findings: CorrelationFindings, method: str, alpha: float) -> str:
    how = (
        f"matrix: one row per pair of columns (each pair once) with {_label(method)} r, its {1 - alpha:.0%} "
        "confidence "
        "interval (Fisher z), raw p_value, Holm-adjusted p_adjusted (controls false positives across "
        "all pairs) "
        "and n = rows where both values are present. significant_pairs: pairs with p_adjusted < alpha, "
        "strongest first. Strength of |r|: < 0.1 negligible, < 0.3 weak, < 0.5 moderate, else strong. "
        + (
            "Pearson measures straight-line association and is sensitive to outliers; Spearman (ranks) "
            "captures "
            "any monotonic association. "
            if method == "pearson"
            else "Spearman correlates ranks, so it captures any monotonic association and resists outliers. "
        )
        + "A yes/no column coded 0/1 gives the point-biserial correlation. Correlation is not causation."
    )
    if findings.notes:
        how += " " + " ".join(findings.notes)
    return how


SPEC = AnalysisSpec(
    name="correlation",
    title="Pairwise correlation of numeric columns",
    brief="Pearson/Spearman with p-values",
    position=4,
    function=correlation,
    frames=[
        FrameSpec(
            name="data",
            required=True,
            description="Any table; one row per observation (e.g. customer_features).",
            source=MartSource(
                mart="customer_features",
                columns=(
                    "tenure_days",
                    "age",
                    "total_events",
                    "avg_quality_score",
                    "poor_quality_share",
                    "avg_monthly_events",
                    "avg_monthly_data_mb",
                    "usage_trend",
                    "avg_monthly_revenue",
                    "is_churned",
                ),
            ),
        )
    ],
    parameter_docs={
        "method": "'pearson' (linear) or 'spearman' (rank, any monotonic relation, robust to outliers).",
        "columns": "Columns to correlate; default all numeric and boolean columns except ids. Yes/no text "
        "columns are read as 1/0 when named here.",
        "alpha": "Significance level, applied to Holm-adjusted p-values.",
        "filters": FILTERS_DOC,
    },
    raw_tables=("customers",),
    main_table="significant_pairs",
    chart=SummaryChart(
        table="matrix",
        chart_type="heatmap",
        x_axis="column_a",
        y_axis="column_b",
        value="r",
        title="Correlation",
    ),
)
