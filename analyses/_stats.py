"""Small statistical building blocks shared by the analyses.

Kept separate so each formula is written (and tested) once; the analyses only decide which to use.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analyses.results import StatTest


def z_value(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level."""
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_interval(
    successes: np.ndarray | pd.Series | float, n: np.ndarray | pd.Series | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion.

    Chosen over the normal (Wald) interval because churn and poor-quality shares are often close to 0
    and segments can be small; Wilson stays inside [0, 1] and keeps its coverage there.
    Where n == 0 the bounds are NaN.
    """
    x = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / total
        denominator = 1 + z**2 / total
        centre = (p + z**2 / (2 * total)) / denominator
        half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denominator
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    low = np.where(total > 0, low, np.nan)
    high = np.where(total > 0, high, np.nan)
    return low, high


def add_rate(table: pd.DataFrame, successes: str, trials: str, rate: str, confidence: float) -> None:
    """Add `rate` = successes / trials and its Wilson interval (ci_low, ci_high) to a count table.

    Rates are always re-derived from the counts of the row, never averaged from finer rows, so groups
    of different sizes weigh correctly; `successes` becomes an integer column on the way.
    """
    table[successes] = table[successes].astype(int)
    table[rate] = table[successes] / table[trials]
    low, high = wilson_interval(table[successes], table[trials], confidence)
    table["ci_low"], table["ci_high"] = low, high


def magnitude(value: float | None, thresholds: tuple[float, float, float]) -> str:
    """Cohen-style words for an effect size (absolute value), e.g. (0.1, 0.3, 0.5) for r."""
    if value is None or not math.isfinite(value):
        return "undetermined"
    size = abs(value)
    small, medium, large = thresholds
    if size < small:
        return "negligible"
    if size < medium:
        return "small"
    if size < large:
        return "medium"
    return "large"


def correlation_strength(r: float | None) -> str:
    """Words analysts use for |r|: negligible < 0.1 <= weak < 0.3 <= moderate < 0.5 <= strong."""
    word = magnitude(r, (0.1, 0.3, 0.5))
    return {"small": "weak", "medium": "moderate", "large": "strong"}.get(word, word)


def cramers_v_magnitude(v: float | None, df_star: int) -> str:
    """Cohen's thresholds for Cramér's V shrink with the smaller table dimension (df* = min(r, c) - 1)."""
    scale = math.sqrt(max(df_star, 1))
    return magnitude(v, (0.1 / scale, 0.3 / scale, 0.5 / scale))


def cohens_d(a: np.ndarray, b: np.ndarray) -> float | None:
    """Difference of means in pooled standard deviations (a minus b)."""
    n_a, n_b = len(a), len(b)
    if n_a < 2 or n_b < 2:
        return None
    pooled = ((n_a - 1) * np.var(a, ddof=1) + (n_b - 1) * np.var(b, ddof=1)) / (n_a + n_b - 2)
    if pooled <= 0:
        return None
    return float((np.mean(a) - np.mean(b)) / math.sqrt(pooled))


def format_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def significance_words(p: float | None, alpha: float) -> str:
    """'significant at 5%' / 'not significant at 5%', the opening of every interpretation."""
    level = f"{alpha * 100:g}%"
    if p is None or not math.isfinite(p):
        return "not testable"
    return f"significant at {level}" if p < alpha else f"not significant at {level}"


def chi_square_independence(
    crosstab: pd.DataFrame, *, outcome: str, factor: str, alpha: float
) -> tuple[StatTest | None, str | None]:
    """Pearson chi-square test of independence (no continuity correction) with Cramér's V.

    No Yates correction so the statistic, p-value and Cramér's V agree with each other for every
    table shape; V is the bias-uncorrected sqrt(chi2 / (n * (min(r, c) - 1))).
    Returns (test, warning); the test is None when the table has fewer than two rows or columns.
    """
    table = crosstab.loc[crosstab.sum(axis=1) > 0, crosstab.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None, None
    statistic, p_value, dof, expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    n = float(table.to_numpy().sum())
    df_star = min(table.shape) - 1
    v = math.sqrt(statistic / (n * df_star)) if n > 0 else None
    size = cramers_v_magnitude(v, df_star)
    if p_value < alpha:
        sentence = f"{significance_words(p_value, alpha)}: {outcome} differs by {factor} ({size} effect)"
    else:
        sentence = (
            f"{significance_words(p_value, alpha)} ({format_p(p_value)}): no evidence that {outcome} "
            f"differs by {factor}"
        )
    warning = None
    low_expected = float((expected < 5).mean())
    if low_expected > 0.2:
        warning = (
            f"chi-square {outcome} vs {factor}: {low_expected:.0%} of cells have an expected count below 5, "
            "so its p-value is only approximate"
        )
    test = StatTest(
        name=f"chi-square: {outcome} vs {factor}",
        statistic=float(statistic),
        p_value=float(p_value),
        dof=int(dof),
        effect_size=v,
        effect_name="Cramér's V (bias-uncorrected)",
        interpretation=sentence,
    )
    return test, warning


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: family-wise error control without Bonferroni's loss of power."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def fisher_z_interval(r: float, n: int, confidence: float, *, spearman: bool = False) -> tuple[float, float]:
    """Confidence interval for a correlation via Fisher's z.

    For Spearman the Fieller et al. (1957) standard error sqrt(1.06 / (n - 3)) is used.
    """
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    r_clipped = min(max(r, -0.999999), 0.999999)
    se = math.sqrt((1.06 if spearman else 1.0) / (n - 3))
    z = math.atanh(r_clipped)
    q = z_value(confidence)
    return math.tanh(z - q * se), math.tanh(z + q * se)
