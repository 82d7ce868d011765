"""Churn over time for `churn_rate`: the monthly trend (with its test) and signup-cohort retention.

Apart from `analyses.churn` because both work on months rather than on segments: which months are
complete, where the observation ends and how a rate moves from one month to the next.
"""

from __future__ import annotations

import math
import warnings as pywarnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from analyses._frame import binary_outcome, coerce_decimals, datetime_column, month_column
from analyses._stats import add_rate, format_p, significance_words
from analyses.results import StatTest
from analyses.steps import checkpoint

MONTHLY_REQUIRED = ("month", "customers_at_risk", "customers_churned")


class MonthlyTrend(NamedTuple):
    """Churn per complete month, its trend test, the notes for the caller and the last complete month."""

    table: pd.DataFrame
    test: StatTest | None
    notes: list[str]
    last_complete: pd.Timestamp | None


class TrendFit(NamedTuple):
    """Slope of the monthly churn log-odds per month, as fitted by the quasi-binomial GLM."""

    slope: float
    p_value: float
    z: float
    dof: int


class CohortRetention(NamedTuple):
    """Retained share per signup cohort and month offset, and the last month it could observe."""

    table: pd.DataFrame
    notes: list[str]
    end_month: pd.Timestamp


def monthly_trend(monthly: pd.DataFrame, confidence: float, alpha: float) -> MonthlyTrend:
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
        return MonthlyTrend(pd.DataFrame(), None, notes, last_complete)
    trend = data.groupby("month", sort=True)[["at_risk", "churned"]].sum().reset_index()
    trend = trend.loc[trend["at_risk"] > 0].reset_index(drop=True)
    trend["at_risk"] = trend["at_risk"].astype(int)
    add_rate(trend, "churned", "at_risk", "churn_rate", confidence)
    fit = _fit_trend(trend, notes)
    return MonthlyTrend(trend, _trend_test(fit, alpha) if fit else None, notes, last_complete)


def _fit_trend(trend: pd.DataFrame, notes: list[str]) -> TrendFit | None:
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
    return TrendFit(slope, p_value, z, int(fit.df_resid))


def _trend_test(fit: TrendFit, alpha: float) -> StatTest:
    """The fitted slope as an odds ratio per month, with the sentence that says which way it goes."""
    odds_ratio = math.exp(fit.slope)
    direction = "rising" if fit.slope > 0 else "falling"
    if fit.p_value < alpha:
        sentence = (
            f"{significance_words(fit.p_value, alpha)}: monthly churn is {direction} "
            f"(odds x{odds_ratio:.3f} per month)"
        )
    else:
        sentence = (
            f"{significance_words(fit.p_value, alpha)} ({format_p(fit.p_value)}): no clear upward or "
            "downward trend in monthly churn"
        )
    return StatTest(
        name="trend: monthly churn odds over time (quasi-binomial GLM)",
        statistic=fit.z,
        p_value=fit.p_value,
        dof=fit.dof,
        effect_size=odds_ratio,
        effect_name="odds ratio per month",
        interpretation=sentence,
    )


def cohort_retention(
    customers: pd.DataFrame,
    churned: np.ndarray,
    cohort_column: str,
    churn_month_column: str,
    last_complete_month: pd.Timestamp | None,
) -> CohortRetention:
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
    return CohortRetention(pd.DataFrame(rows), notes, end_month)


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
