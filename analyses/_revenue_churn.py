"""Revenue of churned vs retained customers, the `customers` side of `arpu`.

Apart from `analyses.arpu` because it reads another table (one row per customer, not per month) and
answers another question: do the customers who leave pay less (or more) than those who stay?
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from analyses._checks import customer_outcome
from analyses._stats import cohens_d, format_p, magnitude, significance_words
from analyses.results import StatTest


class RevenueGap(NamedTuple):
    """Mean revenue of churned and retained customers, and how sure the difference is."""

    churned_mean: float
    retained_mean: float
    welch_p: float
    cohens_d: float | None


class ChurnedVsRetained(NamedTuple):
    """The per-group table and tests; `gap` is None when a group has too few customers to test."""

    table: pd.DataFrame
    tests: list[StatTest]
    notes: list[str]
    gap: RevenueGap | None


def churned_vs_retained(
    customers: pd.DataFrame, revenue_column: str, churn_column: str, positive_label: Any, alpha: float
) -> ChurnedVsRetained:
    """Revenue per customer of churned vs retained customers: per-group table, Welch and rank tests."""
    notes: list[str] = []
    read = customer_outcome(customers, churn_column, positive_label, revenue_column)
    flag, revenue = read.flag, read.measure
    usable = flag.notna().to_numpy() & revenue.notna().to_numpy()
    if not usable.all():
        notes.append(
            f"{int((~usable).sum())} customers without '{revenue_column}' or '{churn_column}' left out of "
            "churned_vs_retained"
        )
    churned_flag = flag.to_numpy(dtype=bool, na_value=False)[usable]
    values = revenue.to_numpy()[usable]
    rows = []
    for group, mask in (("churned", churned_flag), ("retained", ~churned_flag)):
        sample = values[mask]
        rows.append(
            {
                "group": group,
                "customers": int(mask.sum()),
                "mean": float(np.mean(sample)) if len(sample) else None,
                "median": float(np.median(sample)) if len(sample) else None,
                "std": float(np.std(sample, ddof=1)) if len(sample) > 1 else None,
            }
        )
    table = pd.DataFrame(rows)
    churned_values, retained_values = values[churned_flag], values[~churned_flag]
    if len(churned_values) < 2 or len(retained_values) < 2:
        notes.append("fewer than 2 churned or retained customers with revenue: no test of the difference")
        return ChurnedVsRetained(table, [], notes, None)

    welch = stats.ttest_ind(churned_values, retained_values, equal_var=False)
    d = cohens_d(churned_values, retained_values)
    mann_whitney = stats.mannwhitneyu(churned_values, retained_values, alternative="two-sided")
    n1, n2 = len(churned_values), len(retained_values)
    rank_biserial = 2 * float(mann_whitney.statistic) / (n1 * n2) - 1
    gap = RevenueGap(np.mean(churned_values), np.mean(retained_values), welch.pvalue, d)
    tests = [
        _welch_test(welch, gap, revenue_column, alpha),
        _mann_whitney_test(mann_whitney, rank_biserial, revenue_column, alpha),
    ]
    return ChurnedVsRetained(table, tests, notes, gap)


def _welch_test(welch: Any, gap: RevenueGap, revenue_column: str, alpha: float) -> StatTest:
    """Welch's t-test of the mean difference, worded with Cohen's d as the size of the gap."""
    size = magnitude(gap.cohens_d, (0.2, 0.5, 0.8))
    direction = "lower" if float(gap.churned_mean - gap.retained_mean) < 0 else "higher"
    if welch.pvalue < alpha:
        sentence = (
            f"{significance_words(welch.pvalue, alpha)}: churned customers have {direction} {revenue_column} "
            f"than retained ones ({size} effect)"
        )
    else:
        sentence = (
            f"{significance_words(welch.pvalue, alpha)} ({format_p(welch.pvalue)}): no evidence that "
            f"{revenue_column} differs between churned and retained customers"
        )
    return StatTest(
        name=f"Welch t-test: {revenue_column}, churned vs retained",
        statistic=float(welch.statistic),
        p_value=float(welch.pvalue),
        dof=round(float(welch.df)) if math.isfinite(float(welch.df)) else None,
        effect_size=gap.cohens_d,
        effect_name="Cohen's d (churned minus retained, pooled SD)",
        interpretation=sentence,
    )


def _mann_whitney_test(
    mann_whitney: Any, rank_biserial: float, revenue_column: str, alpha: float
) -> StatTest:
    """The rank test beside Welch's because revenue is skewed; rank-biserial r as its effect size."""
    return StatTest(
        name=f"Mann-Whitney U: {revenue_column}, churned vs retained",
        statistic=float(mann_whitney.statistic),
        p_value=float(mann_whitney.pvalue),
        effect_size=rank_biserial,
        effect_name="rank-biserial correlation (positive: churned tend to be higher)",
        interpretation=(
            f"{significance_words(mann_whitney.pvalue, alpha)}: the distributions "
            f"{'differ' if mann_whitney.pvalue < alpha else 'do not clearly differ'} "
            f"({magnitude(rank_biserial, (0.1, 0.3, 0.5))} effect)"
        ),
    )


def gap_sentence(gap: RevenueGap, revenue_column: str) -> str:
    """The difference in one sentence of the analysis summary ('' when Cohen's d is undefined)."""
    if gap.cohens_d is None:
        return ""
    return (
        f" Churned customers averaged {gap.churned_mean:,.2f} {revenue_column} vs "
        f"{gap.retained_mean:,.2f} for retained (Welch {format_p(gap.welch_p)}, Cohen's d "
        f"{gap.cohens_d:.2f})."
    )
