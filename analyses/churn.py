"""Churn rate overall, by segment, by month and by signup cohort, with intervals and tests.

Rates are always re-computed from counts (churned / customers), never averaged, so segments and
months of different sizes weigh correctly; every rate carries a Wilson interval so small segments
are not over-read.

`churn_rate` runs three steps: `_checked_inputs` (parameters and tables -> `AnalysisError`s),
`_computed` (frames -> `ChurnFindings`) and `_summary` / `_how_to_read` (numbers -> words); the
monthly trend and the signup cohorts live in `analyses._churn_time`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses._checks import as_list, filtered_inputs, require_level
from analyses._churn_time import MONTHLY_REQUIRED, cohort_retention, monthly_trend
from analyses._frame import (
    binary_outcome,
    ensure_frame,
    listing,
    require_columns,
    require_rows,
    segment_labels,
    time_range,
)
from analyses._json import records
from analyses._stats import add_rate, chi_square_independence, format_p, wilson_interval
from analyses.results import AnalysisError, AnalysisResult, Findings, StatTest
from analyses.spec import FILTERS_DOC, AnalysisSpec, FrameSpec, MartSource, SummaryChart
from analyses.steps import checkpoint

DEFAULT_SEGMENTS = ("account_type", "location", "gender", "age_band")
MAX_CATEGORIES = 50
NUMERIC_BIN_THRESHOLD = 12


def churn_rate(
    customers: pd.DataFrame,
    *,
    churn_column: str = "is_churned",
    positive_label: Any = True,
    segment_by: list[str] | None = None,
    monthly: pd.DataFrame | None = None,
    cohort_column: str | None = "signup_month",
    churn_month_column: str | None = "churn_month",
    confidence: float = 0.95,
    min_segment_size: int = 30,
    filters: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Churn share of customers, by segment, by month (from `monthly`) and by signup cohort.

    `customers` has one row per customer (our `dim_customers`, or any table with a churn flag);
    `monthly` is optional `fct_customer_churn_monthly` (month, customers_at_risk, customers_churned,
    is_complete_month). Filters are applied to every frame that has the filtered column.
    """
    inputs = _checked_inputs(
        customers,
        monthly,
        churn_column=churn_column,
        positive_label=positive_label,
        segment_by=segment_by,
        confidence=confidence,
        min_segment_size=min_segment_size,
        filters=filters,
    )
    findings = _computed(
        inputs,
        cohort_column=cohort_column,
        churn_month_column=churn_month_column,
        confidence=confidence,
        min_segment_size=min_segment_size,
    )
    return findings.result(
        "churn_rate",
        summary=_summary(findings, confidence),
        how_to_read=_how_to_read(findings, confidence),
        filters=filters,
    )


# ---------------------------------------------------------------------------------------- validate


@dataclass(frozen=True, eq=False)
class ChurnInputs:
    """Filtered tables and the churn flag read from them: what computing may take as checked."""

    customers: pd.DataFrame
    monthly: pd.DataFrame | None
    churn_column: str
    churned: np.ndarray
    segments: list[str]
    explicit_segments: bool
    warnings: list[str]


def _checked_inputs(
    customers: pd.DataFrame,
    monthly: pd.DataFrame | None,
    *,
    churn_column: str,
    positive_label: Any,
    segment_by: list[str] | None,
    confidence: float,
    min_segment_size: int,
    filters: dict[str, Any] | None,
) -> ChurnInputs:
    """Every check that needs no computed number, in the order the caller should fix them."""
    customers = ensure_frame(customers, "customers")
    if monthly is not None:
        monthly = ensure_frame(monthly, "monthly")
    require_level(confidence, "confidence", "0.95")
    if min_segment_size < 1:
        raise AnalysisError(f"min_segment_size must be at least 1, got {min_segment_size}")
    require_rows(customers, "customers")
    require_columns(customers, [churn_column], "customers", "as the churn flag (churn_column)")
    segment_by = as_list(segment_by)
    if segment_by is not None:
        require_columns(customers, segment_by, "customers", "to segment by (segment_by)")
        if churn_column in segment_by:
            raise AnalysisError(f"'{churn_column}' is the churn flag; it cannot also be a segment_by column")
    if monthly is not None:
        require_columns(monthly, MONTHLY_REQUIRED, "monthly", "for the monthly trend")

    filtered = filtered_inputs("customers", customers, filters, monthly=monthly)
    customers, warnings = filtered.primary, filtered.warnings
    flag = binary_outcome(customers[churn_column], positive_label, churn_column, "customers")
    if flag.isna().any():
        warnings.append(
            f"{int(flag.isna().sum())} customers have no value in '{churn_column}' and were left out"
        )
        customers = customers.loc[flag.notna().to_numpy()]
        flag = flag[flag.notna()]
    require_rows(customers, "customers", filters)
    explicit = segment_by is not None
    return ChurnInputs(
        customers=customers,
        monthly=filtered.optional["monthly"],
        churn_column=churn_column,
        churned=flag.astype(bool).to_numpy(),
        segments=list(segment_by) if explicit else [c for c in DEFAULT_SEGMENTS if c in customers.columns],
        explicit_segments=explicit,
        warnings=warnings,
    )


# ----------------------------------------------------------------------------------------- compute


class Overall(NamedTuple):
    """Churned share of all customers with its Wilson interval."""

    customers: int
    churned: int
    ci_low: float
    ci_high: float

    @property
    def rate(self) -> float:
        return self.churned / self.customers


@dataclass(kw_only=True, eq=False)
class SegmentBreakdown:
    """Rates and chi-square tests per segment column, with what the summary and guide say of them."""

    frames: list[pd.DataFrame]
    tests: list[StatTest]
    warnings: list[str]
    notes: list[str]
    columns: list[str]


@dataclass(kw_only=True, eq=False)
class ChurnFindings(Findings):
    """The numbers quoted by the summary besides the tables."""

    overall: Overall
    segment_frames: list[pd.DataFrame]
    trend: pd.DataFrame | None
    notes: list[str]


def _computed(
    inputs: ChurnInputs,
    *,
    cohort_column: str | None,
    churn_month_column: str | None,
    confidence: float,
    min_segment_size: int,
) -> ChurnFindings:
    churned = inputs.churned
    alpha = 1 - confidence
    overall = _overall(churned, confidence)
    tables: dict[str, list[dict[str, Any]]] = {"overall": records(_overall_table(overall))}
    segments = _segments(inputs, confidence, min_segment_size)
    if segments.frames:
        tables["by_segment"] = records(pd.concat(segments.frames, ignore_index=True))
    tests = list(segments.tests)
    warnings = [*inputs.warnings, *segments.warnings]
    columns_used = [inputs.churn_column, *segments.columns]

    span: tuple[str, str] | None = None
    last_complete_month: pd.Timestamp | None = None
    trend_table: pd.DataFrame | None = None
    if inputs.monthly is not None:
        trend = monthly_trend(inputs.monthly, confidence, alpha)
        warnings.extend(trend.notes)
        last_complete_month = trend.last_complete
        if len(trend.table):
            trend_table = trend.table
            tables["monthly_trend"] = records(trend_table)
            span = time_range(trend_table["month"])
            columns_used += [f"monthly.{c}" for c in MONTHLY_REQUIRED]
        if trend.test is not None:
            tests.append(trend.test)

    customers = inputs.customers
    if (
        cohort_column
        and churn_month_column
        and cohort_column in customers.columns
        and churn_month_column in customers.columns
    ):
        cohorts = cohort_retention(customers, churned, cohort_column, churn_month_column, last_complete_month)
        warnings.extend(cohorts.notes)
        if len(cohorts.table):
            tables["cohort_retention"] = records(cohorts.table)
            columns_used += [cohort_column, churn_month_column]
            if span is None:
                span = (
                    cohorts.table["cohort"].min().date().isoformat(),
                    cohorts.end_month.date().isoformat(),
                )

    return ChurnFindings(
        rows=overall.customers,
        tables=tables,
        tests=tests,
        warnings=warnings,
        columns_used=columns_used,
        time_range=span,
        overall=overall,
        segment_frames=segments.frames,
        trend=trend_table,
        notes=segments.notes,
    )


def _overall(churned: np.ndarray, confidence: float) -> Overall:
    n_total, n_churned = len(churned), int(churned.sum())
    low, high = wilson_interval(n_churned, n_total, confidence)
    return Overall(n_total, n_churned, float(low), float(high))


def _overall_table(overall: Overall) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customers": [overall.customers],
            "churned": [overall.churned],
            "churn_rate": [overall.rate],
            "ci_low": [overall.ci_low],
            "ci_high": [overall.ci_high],
        }
    )


def _segments(inputs: ChurnInputs, confidence: float, min_segment_size: int) -> SegmentBreakdown:
    """Rates per category of each segment column, and a chi-square test where there is a contrast.

    A many-valued column the caller named is an error; one picked by default is skipped with a warning.
    """
    alpha = 1 - confidence
    breakdown = SegmentBreakdown(frames=[], tests=[], warnings=[], notes=[], columns=[])
    warnings = breakdown.warnings
    for column in inputs.segments:
        checkpoint()
        labels, note = _segment_series(inputs.customers[column], column)
        n_categories = labels.nunique()
        if n_categories > MAX_CATEGORIES:
            message = (
                f"segment column '{column}' has {n_categories} distinct values; pick a column with at most "
                f"{MAX_CATEGORIES} categories"
            )
            if inputs.explicit_segments:
                raise AnalysisError(message)
            warnings.append(message + " (skipped)")
            continue
        if note:
            breakdown.notes.append(note)
        breakdown.columns.append(column)
        table = _rates_by(labels, inputs.churned, confidence)
        table.insert(0, "segment_column", column)
        breakdown.frames.append(table)
        small = table.loc[table["customers"] < min_segment_size]
        if len(small):
            names = listing(
                [f"'{s}' ({n})" for s, n in zip(small["segment"], small["customers"], strict=True)], 8
            )
            warnings.append(
                f"{column}: {len(small)} segment(s) have fewer than {min_segment_size} customers, so their "
                f"intervals are wide: {names}"
            )
        if n_categories < 2:
            warnings.append(f"'{column}' has a single value here, so churn cannot be compared across it")
            continue
        crosstab = pd.crosstab(labels, inputs.churned)
        test, warning = chi_square_independence(crosstab, outcome="churn", factor=column, alpha=alpha)
        if test is not None:
            breakdown.tests.append(test)
        if warning:
            warnings.append(warning)
    return breakdown


def _segment_series(series: pd.Series, column: str) -> tuple[pd.Series, str | None]:
    """Labels for one segment column; many-valued numbers (age, tenure) are cut into quartiles."""
    if (
        ptypes.is_numeric_dtype(series.dtype)
        and not ptypes.is_bool_dtype(series.dtype)
        and series.nunique() > NUMERIC_BIN_THRESHOLD
    ):
        bands = pd.qcut(series.astype(float), q=4, duplicates="drop")
        labels = bands.map(lambda b: f"{b.left:g} to {b.right:g}" if isinstance(b, pd.Interval) else b)
        return segment_labels(labels.astype(object)), (
            f"'{column}' is numeric with many values, so it was cut into quartile bands (lower bound "
            "exclusive)."
        )
    return segment_labels(series), None


def _rates_by(labels: pd.Series, churned: np.ndarray, confidence: float) -> pd.DataFrame:
    frame = pd.DataFrame({"segment": labels.to_numpy(), "churned": churned})
    table = frame.groupby("segment", sort=True).agg(customers=("churned", "size"), churned=("churned", "sum"))
    table = table.reset_index()
    add_rate(table, "churned", "customers", "churn_rate", confidence)
    return table.sort_values(
        ["churn_rate", "customers"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)


# ----------------------------------------------------------------------------------------- narrate


def _summary(findings: ChurnFindings, confidence: float) -> str:
    overall = findings.overall
    level = f"{confidence:.0%}"
    summary = (
        f"Overall {overall.rate:.1%} of {overall.customers:,} customers churned ({overall.churned:,}; "
        f"{level} CI {overall.ci_low:.1%}-{overall.ci_high:.1%})."
    )
    summary += _segment_headline(findings.segment_frames, findings.tests, 1 - confidence)
    if findings.trend is not None and findings.time_range is not None:
        summary += _trend_sentence(findings.trend, findings.time_range)
    return summary


def _segment_headline(segment_frames: list[pd.DataFrame], tests: list[StatTest], alpha: float) -> str:
    """Name the segment column with the largest significant effect, with its extremes."""
    by_name = {
        t.name.removeprefix("chi-square: churn vs "): t for t in tests if t.name.startswith("chi-square")
    }
    candidates = [
        (by_name[f["segment_column"].iloc[0]], f)
        for f in segment_frames
        if len(f) >= 2 and f["segment_column"].iloc[0] in by_name
    ]
    if not candidates:
        return ""
    significant = [c for c in candidates if c[0].p_value is not None and c[0].p_value < alpha]
    if not significant:
        names = ", ".join(f["segment_column"].iloc[0] for _, f in candidates)
        return f" Churn does not differ significantly by {names}."
    test, frame = max(significant, key=lambda c: c[0].effect_size or 0.0)
    top, bottom = frame.iloc[0], frame.iloc[-1]
    column = frame["segment_column"].iloc[0]
    return (
        f" The largest difference is by {column}: {top['segment']} {top['churn_rate']:.1%} "
        f"(n={top['customers']:,}) "
        f"vs {bottom['segment']} {bottom['churn_rate']:.1%} (n={bottom['customers']:,}); "
        f"{format_p(test.p_value)}, "
        f"Cramér's V {test.effect_size:.2f}."
    )


def _trend_sentence(trend: pd.DataFrame, time_range: tuple[str, str]) -> str:
    latest = trend.iloc[-1]
    return (
        f" Monthly churn over {len(trend)} complete month(s) "
        f"{time_range[0][:7]}..{time_range[1][:7]} "
        f"was {trend['churned'].sum() / trend['at_risk'].sum():.2%} of customers at risk per month "
        f"(latest {latest['month']:%Y-%m}: {latest['churn_rate']:.2%})."
    )


def _how_to_read(findings: ChurnFindings, confidence: float) -> str:
    level, alpha = f"{confidence:.0%}", 1 - confidence
    how = [
        "overall/by_segment: churn_rate = churned / customers over the whole history in the data (share of "
        f"customers who ever churned), with a {level} Wilson score interval [ci_low, ci_high]; by_segment "
        "lists each segment_column's categories from highest to lowest churn_rate.",
        "tests: Pearson chi-square test of independence (no continuity correction) of churn against each "
        "segment column, with Cramér's V (bias-uncorrected; about 0.1 small, 0.3 medium, 0.5 large for a "
        "yes/no outcome). Several columns are tested at once, so treat a p-value just under "
        f"{alpha:g} with caution; with many customers even tiny differences are significant, so read the "
        "effect size.",
    ]
    if "monthly_trend" in findings.tables:
        how.append(
            "monthly_trend: per complete month, churned / customers at risk in that month (a monthly rate, "
            "not comparable to the lifetime share above), with Wilson intervals; the trend test is a "
            "quasi-binomial regression of the monthly odds of churn on time (effect: odds ratio per month)."
        )
    if "cohort_retention" in findings.tables:
        how.append(
            "cohort_retention: customers grouped by signup month; retained_share = share not churned by the "
            "end of the month months_since_signup after signup (0 = end of the signup month). Only months "
            "that are fully observed are shown, so recent cohorts have shorter rows."
        )
    how.extend(findings.notes)
    how.append("These are associations: a segment with higher churn is not by itself the cause of churn.")
    return " ".join(how)


def _account_type_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary chart compares account types when they were a segment, else every segment."""
    return [r for r in rows if r.get("segment_column") == "account_type"] or rows


SPEC = AnalysisSpec(
    name="churn_rate",
    title="Churn rate by segment, month and signup cohort",
    brief="by segment, trend, cohorts, chi-square",
    position=1,
    function=churn_rate,
    frames=[
        FrameSpec(
            name="customers",
            required=True,
            description="One row per customer with a churn flag (marts.dim_customers).",
            columns=[
                "is_churned",
                "account_type",
                "location",
                "gender",
                "age_band",
                "signup_month",
                "churn_month",
            ],
            source=MartSource(
                mart="dim_customers",
                columns=(
                    "customer_id",
                    "account_type",
                    "location",
                    "gender",
                    "age_band",
                    "signup_month",
                    "is_churned",
                    "churn_month",
                    "tenure_days",
                ),
            ),
        ),
        FrameSpec(
            name="monthly",
            required=False,
            description="Monthly churn counts for monthly_trend (marts.fct_customer_churn_monthly).",
            columns=["month", "customers_at_risk", "customers_churned", "is_complete_month"],
            source=MartSource(
                mart="fct_customer_churn_monthly",
                columns=(
                    "month",
                    "account_type",
                    "location",
                    "customers_at_risk",
                    "customers_churned",
                    "is_complete_month",
                ),
            ),
        ),
    ],
    parameter_docs={
        "churn_column": "Column with the churn flag (e.g. 'Churn' in the Kaggle Telco set).",
        "positive_label": "Value of churn_column that means churned: True for booleans, or e.g. 'Yes'.",
        "segment_by": "Columns to compare churn across; default: those of account_type, location, gender, "
        "age_band present. Numbers with many values are cut into quartiles.",
        "cohort_column": "Signup month column for cohort_retention (null to skip).",
        "churn_month_column": "Churn month column for cohort_retention (null to skip).",
        "confidence": "Confidence level of the Wilson intervals; 1 - confidence is the test level.",
        "min_segment_size": "Segments smaller than this get a warning (wide intervals).",
        "filters": FILTERS_DOC,
    },
    raw_tables=("customers",),
    main_table="by_segment",
    chart=SummaryChart(
        table="by_segment",
        chart_type="bar",
        x_axis="segment",
        y_axis="churn_rate",
        title="Churn rate",
        rows=_account_type_rows,
    ),
)
