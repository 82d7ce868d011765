"""Churn rate overall, by segment, by month and by signup cohort, with intervals and tests.

Rates are always re-computed from counts (churned / customers), never averaged, so segments and
months of different sizes weigh correctly; every rate carries a Wilson interval so small segments
are not over-read.
"""

from __future__ import annotations

import math
import warnings as pywarnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses._frame import (
    apply_filters,
    binary_outcome,
    coerce_decimals,
    datetime_column,
    ensure_frame,
    listing,
    month_column,
    require_columns,
    require_rows,
    segment_labels,
)
from analyses._json import records
from analyses._stats import chi_square_independence, format_p, significance_words, wilson_interval
from analyses.results import AnalysisError, AnalysisResult, ComputedOn, StatTest
from analyses.steps import checkpoint

DEFAULT_SEGMENTS = ("account_type", "location", "gender", "age_band")
MAX_CATEGORIES = 50
NUMERIC_BIN_THRESHOLD = 12
MONTHLY_REQUIRED = ("month", "customers_at_risk", "customers_churned")


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
    customers = ensure_frame(customers, "customers")
    if monthly is not None:
        monthly = ensure_frame(monthly, "monthly")
    if not 0 < confidence < 1:
        raise AnalysisError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    if min_segment_size < 1:
        raise AnalysisError(f"min_segment_size must be at least 1, got {min_segment_size}")
    require_rows(customers, "customers")
    require_columns(customers, [churn_column], "customers", "as the churn flag (churn_column)")
    if segment_by is not None:
        if isinstance(segment_by, str):
            segment_by = [segment_by]
        require_columns(customers, segment_by, "customers", "to segment by (segment_by)")
        if churn_column in segment_by:
            raise AnalysisError(f"'{churn_column}' is the churn flag; it cannot also be a segment_by column")
    if monthly is not None:
        require_columns(monthly, MONTHLY_REQUIRED, "monthly", "for the monthly trend")

    frames, warnings = apply_filters({"customers": customers, "monthly": monthly}, filters)
    customers = coerce_decimals(frames["customers"])
    monthly = frames["monthly"]
    require_rows(customers, "customers", filters)

    flag = binary_outcome(customers[churn_column], positive_label, churn_column, "customers")
    if flag.isna().any():
        warnings.append(
            f"{int(flag.isna().sum())} customers have no value in '{churn_column}' and were left out"
        )
        customers = customers.loc[flag.notna().to_numpy()]
        flag = flag[flag.notna()]
    require_rows(customers, "customers", filters)
    churned = flag.astype(bool).to_numpy()
    alpha = 1 - confidence
    level = f"{confidence:.0%}"
    columns_used = [churn_column]

    n_total, n_churned = len(churned), int(churned.sum())
    low, high = wilson_interval(n_churned, n_total, confidence)
    overall = pd.DataFrame(
        {
            "customers": [n_total],
            "churned": [n_churned],
            "churn_rate": [n_churned / n_total],
            "ci_low": [float(low)],
            "ci_high": [float(high)],
        }
    )
    tables: dict[str, list[dict[str, Any]]] = {"overall": records(overall)}
    tests: list[StatTest] = []
    notes: list[str] = []

    explicit = segment_by is not None
    segments = list(segment_by) if explicit else [c for c in DEFAULT_SEGMENTS if c in customers.columns]
    segment_frames: list[pd.DataFrame] = []
    for column in segments:
        checkpoint()
        labels, note = _segment_series(customers[column], column)
        n_categories = labels.nunique()
        if n_categories > MAX_CATEGORIES:
            message = (
                f"segment column '{column}' has {n_categories} distinct values; pick a column with at most "
                f"{MAX_CATEGORIES} categories"
            )
            if explicit:
                raise AnalysisError(message)
            warnings.append(message + " (skipped)")
            continue
        if note:
            notes.append(note)
        columns_used.append(column)
        table = _rates_by(labels, churned, confidence)
        table.insert(0, "segment_column", column)
        segment_frames.append(table)
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
        crosstab = pd.crosstab(labels, churned)
        test, warning = chi_square_independence(crosstab, outcome="churn", factor=column, alpha=alpha)
        if test is not None:
            tests.append(test)
        if warning:
            warnings.append(warning)
    if segment_frames:
        tables["by_segment"] = records(pd.concat(segment_frames, ignore_index=True))

    trend_text = ""
    time_range: tuple[str, str] | None = None
    last_complete_month: pd.Timestamp | None = None
    if monthly is not None:
        trend, trend_test, trend_notes, last_complete_month = _monthly_trend(monthly, confidence, alpha)
        warnings.extend(trend_notes)
        if len(trend):
            tables["monthly_trend"] = records(trend)
            time_range = (trend["month"].min().date().isoformat(), trend["month"].max().date().isoformat())
            latest = trend.iloc[-1]
            trend_text = (
                f" Monthly churn over {len(trend)} complete month(s) "
                f"{time_range[0][:7]}..{time_range[1][:7]} "
                f"was {trend['churned'].sum() / trend['at_risk'].sum():.2%} of customers at risk per month "
                f"(latest {latest['month']:%Y-%m}: {latest['churn_rate']:.2%})."
            )
            columns_used += [f"monthly.{c}" for c in MONTHLY_REQUIRED]
        if trend_test is not None:
            tests.append(trend_test)

    if (
        cohort_column
        and churn_month_column
        and cohort_column in customers.columns
        and churn_month_column in customers.columns
    ):
        cohorts, cohort_notes, end_month = _cohort_retention(
            customers, churned, cohort_column, churn_month_column, last_complete_month
        )
        warnings.extend(cohort_notes)
        if len(cohorts):
            tables["cohort_retention"] = records(cohorts)
            columns_used += [cohort_column, churn_month_column]
            if time_range is None:
                time_range = (cohorts["cohort"].min().date().isoformat(), end_month.date().isoformat())

    summary = (
        f"Overall {n_churned / n_total:.1%} of {n_total:,} customers churned ({n_churned:,}; {level} CI "
        f"{float(low):.1%}-{float(high):.1%})."
    )
    summary += _segment_headline(segment_frames, tests, alpha) + trend_text

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
    if "monthly_trend" in tables:
        how.append(
            "monthly_trend: per complete month, churned / customers at risk in that month (a monthly rate, "
            "not comparable to the lifetime share above), with Wilson intervals; the trend test is a "
            "quasi-binomial regression of the monthly odds of churn on time (effect: odds ratio per month)."
        )
    if "cohort_retention" in tables:
        how.append(
            "cohort_retention: customers grouped by signup month; retained_share = share not churned by the "
            "end of the month months_since_signup after signup (0 = end of the signup month). Only months "
            "that are fully observed are shown, so recent cohorts have shorter rows."
        )
    how.extend(notes)
    how.append("These are associations: a segment with higher churn is not by itself the cause of churn.")

    return AnalysisResult(
        analysis_type="churn_rate",
        summary=summary,
        how_to_read=" ".join(how),
        computed_on=ComputedOn(
            rows=n_total, time_range=time_range, filters=dict(filters or {}), columns_used=columns_used
        ),
        tables=tables,
        tests=tests,
        warnings=warnings,
    )


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
    table["churned"] = table["churned"].astype(int)
    table["churn_rate"] = table["churned"] / table["customers"]
    low, high = wilson_interval(table["churned"], table["customers"], confidence)
    table["ci_low"], table["ci_high"] = low, high
    return table.sort_values(
        ["churn_rate", "customers"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)


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


def _monthly_trend(
    monthly: pd.DataFrame, confidence: float, alpha: float
) -> tuple[pd.DataFrame, StatTest | None, list[str], pd.Timestamp | None]:
    """Monthly churn summed over segments, complete months only, plus a trend test."""
    notes: list[str] = []
    frame = coerce_decimals(monthly)
    months = month_column(frame, "month", "monthly")
    at_risk = pd.to_numeric(frame["customers_at_risk"], errors="coerce")
    churned = pd.to_numeric(frame["customers_churned"], errors="coerce")
    keep = months.notna() & at_risk.notna() & churned.notna()
    last_complete: pd.Timestamp | None = None
    if "is_complete_month" in frame.columns:
        complete = binary_outcome(frame["is_complete_month"], True, "is_complete_month", "monthly").fillna(
            False
        )
        complete = complete.astype(bool)
        partial = sorted({m.strftime("%Y-%m") for m in months[keep & ~complete].dropna()})
        if partial:
            notes.append(f"incomplete month(s) {', '.join(partial)} left out of monthly_trend")
        keep &= complete
        if (keep).any():
            last_complete = months[keep].max()
    data = pd.DataFrame({"month": months[keep], "at_risk": at_risk[keep], "churned": churned[keep]})
    if data.empty:
        notes.append("monthly has no complete month with counts, so there is no monthly_trend")
        return pd.DataFrame(), None, notes, last_complete
    trend = data.groupby("month", sort=True)[["at_risk", "churned"]].sum().reset_index()
    trend = trend.loc[trend["at_risk"] > 0].reset_index(drop=True)
    trend["at_risk"] = trend["at_risk"].astype(int)
    trend["churned"] = trend["churned"].astype(int)
    trend["churn_rate"] = trend["churned"] / trend["at_risk"]
    low, high = wilson_interval(trend["churned"], trend["at_risk"], confidence)
    trend["ci_low"], trend["ci_high"] = low, high
    return trend, _trend_test(trend, alpha, notes), notes, last_complete


def _trend_test(trend: pd.DataFrame, alpha: float, notes: list[str]) -> StatTest | None:
    """Quasi-binomial GLM of monthly churn odds on time.

    Quasi-binomial (dispersion from Pearson chi2) rather than plain binomial because month-to-month
    variation in churn is usually larger than binomial noise; a plain binomial test would call almost
    any wiggle a trend.
    """
    if len(trend) < 3 or trend["churned"].sum() == 0:
        return None
    import statsmodels.api as sm  # lazily: statsmodels takes seconds to import, most calls never need it

    index = (trend["month"].dt.year * 12 + trend["month"].dt.month).to_numpy(dtype=float)
    index -= index.min()
    at_risk = trend["at_risk"].to_numpy(dtype=float)
    share = trend["churned"].to_numpy(dtype=float) / at_risk
    exog = sm.add_constant(index)
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            # proportions weighted by size: with a two-column endog statsmodels' Pearson X2 (hence the
            # quasi-binomial scale) is computed on the wrong scale
            model = sm.GLM(share, exog, family=sm.families.Binomial(), var_weights=at_risk)
            fit = model.fit(scale="X2")
            if fit.scale < 1:  # never claim more precision than the binomial model itself
                fit = model.fit(scale=1.0)
    except (np.linalg.LinAlgError, ValueError) as exc:
        notes.append(f"the monthly trend test could not be fitted ({exc})")
        return None
    slope, p_value, z = float(fit.params[1]), float(fit.pvalues[1]), float(fit.tvalues[1])
    if not math.isfinite(slope):
        return None
    odds_ratio = math.exp(slope)
    direction = "rising" if slope > 0 else "falling"
    if p_value < alpha:
        sentence = (
            f"{significance_words(p_value, alpha)}: monthly churn is {direction} "
            f"(odds x{odds_ratio:.3f} per month)"
        )
    else:
        sentence = (
            f"{significance_words(p_value, alpha)} ({format_p(p_value)}): no clear upward or downward "
            "trend in "
            "monthly churn"
        )
    return StatTest(
        name="trend: monthly churn odds over time (quasi-binomial GLM)",
        statistic=z,
        p_value=p_value,
        dof=int(fit.df_resid),
        effect_size=odds_ratio,
        effect_name="odds ratio per month",
        interpretation=sentence,
    )


def _cohort_retention(
    customers: pd.DataFrame,
    churned: np.ndarray,
    cohort_column: str,
    churn_month_column: str,
    last_complete_month: pd.Timestamp | None,
) -> tuple[pd.DataFrame, list[str], pd.Timestamp]:
    """Retained share per signup cohort and month offset, over fully observed months only."""
    notes: list[str] = []
    cohort = month_column(customers, cohort_column, "customers").reset_index(drop=True)
    churn_month = month_column(customers, churn_month_column, "customers").reset_index(drop=True)
    churn_month = churn_month.where(pd.Series(churned))
    no_month = pd.Series(churned) & churn_month.isna()
    if no_month.any():
        notes.append(
            f"{int(no_month.sum())} churned customers have no '{churn_month_column}' and are left out of "
            "cohort_retention"
        )
    valid = cohort.notna() & ~no_month
    end_month = _observation_end(customers, cohort, churn_month, last_complete_month, notes)
    cohort_index = cohort.dt.year * 12 + cohort.dt.month
    churn_offset = (churn_month.dt.year * 12 + churn_month.dt.month) - cohort_index
    before_signup = valid & (churn_offset < 0)
    if before_signup.any():
        notes.append(
            f"{int(before_signup.sum())} customers churned before their signup month; counted as "
            "churned in it"
        )
        churn_offset = churn_offset.where(~before_signup, 0)
    end_index = end_month.year * 12 + end_month.month
    rows: list[dict[str, Any]] = []
    frame = pd.DataFrame({"cohort": cohort[valid], "offset": churn_offset[valid]})
    for month, group in frame.groupby("cohort", sort=True):
        checkpoint()
        horizon = end_index - (month.year * 12 + month.month)
        if horizon < 0:
            continue
        size = len(group)
        offsets = group["offset"].dropna().astype(int).to_numpy()
        churned_by = np.cumsum(np.bincount(np.clip(offsets, 0, None), minlength=horizon + 1))[: horizon + 1]
        for k in range(horizon + 1):
            retained = size - int(churned_by[k])
            rows.append(
                {
                    "cohort": month,
                    "months_since_signup": k,
                    "customers": size,
                    "retained": retained,
                    "retained_share": retained / size,
                }
            )
    return pd.DataFrame(rows), notes, end_month


def _observation_end(
    customers: pd.DataFrame,
    cohort: pd.Series,
    churn_month: pd.Series,
    last_complete_month: pd.Timestamp | None,
    notes: list[str],
) -> pd.Timestamp:
    """The last month whose end the data has seen: from the monthly mart, as_of_date, or the data itself."""
    if last_complete_month is not None:
        return last_complete_month
    if "as_of_date" in customers.columns:
        as_of = datetime_column(customers, "as_of_date", "customers").max()
        if pd.notna(as_of):
            as_of = as_of.normalize()
            month_start = as_of.to_period("M").to_timestamp()
            if as_of == (month_start + pd.offsets.MonthEnd(0)):
                return month_start
            return month_start - pd.DateOffset(months=1)
    notes.append(
        "cohort_retention assumes the latest month seen in the data is complete (no as_of_date or monthly "
        "table to tell)"
    )
    return max(cohort.max(), churn_month.max()) if churn_month.notna().any() else cohort.max()
