"""The churn side of `network_quality`: does a customer's network quality go with their churn?

Three views, weakest assumption first: point-biserial correlations, churn rate by quality quartile,
and a logistic model that holds account type and tenure fixed. Apart from `analyses.network_quality`
because it reads another table (customers, not event groups) and answers another question.
"""

from __future__ import annotations

import math
import warnings as pywarnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from analyses._checks import customer_outcome
from analyses._frame import numeric_column, segment_labels
from analyses._json import records
from analyses._stats import add_rate, correlation_strength, format_p, significance_words, z_value
from analyses.results import StatTest


class ChurnModel(NamedTuple):
    """The fitted logit: its odds-ratio table and test, and the quality term the summary quotes."""

    table: pd.DataFrame
    test: StatTest
    odds_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    controls: str
    customers: int


class ModelOutcome(NamedTuple):
    """The model, or None with the reason in `notes`; `terms` are the control columns it used."""

    model: ChurnModel | None
    notes: list[str]
    terms: list[str]


class QualityChurn(NamedTuple):
    """Tables, tests and caveats of the churn link, the customers' columns read, and the model."""

    tables: dict[str, list[dict[str, Any]]]
    tests: list[StatTest]
    notes: list[str]
    columns: list[str]
    model: ChurnModel | None


def quality_and_churn(
    customers: pd.DataFrame,
    quality_column: str,
    churn_column: str,
    positive_label: Any,
    confidence: float,
    alpha: float,
) -> QualityChurn:
    """Point-biserial correlations, churn by quality quartile and an adjusted logistic model."""
    notes: list[str] = []
    read = customer_outcome(customers, churn_column, positive_label, quality_column)
    customers, flag, quality = read.customers, read.flag, read.measure
    measures = {quality_column: quality}
    if "poor_quality_share" in customers.columns and quality_column != "poor_quality_share":
        measures["poor_quality_share"] = numeric_column(customers, "poor_quality_share", "customers")
    tables: dict[str, list[dict[str, Any]]] = {}
    tests: list[StatTest] = []
    rows = []
    y_all = flag.to_numpy(dtype=float, na_value=np.nan)
    for name, values in measures.items():
        x = values.to_numpy(dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(y_all)
        if ok.sum() < 3 or np.unique(y_all[ok]).size < 2 or np.unique(x[ok]).size < 2:
            notes.append(f"not enough variation to correlate churn with {name}")
            continue
        result = stats.pointbiserialr(y_all[ok], x[ok])
        r, p, n = float(result.statistic), float(result.pvalue), int(ok.sum())
        rows.append({"feature": name, "r": r, "p_value": p, "n": n, "strength": correlation_strength(r)})
        tests.append(_point_biserial_test(name, r, p, n, alpha))
    if rows:
        tables["quality_vs_churn"] = records(pd.DataFrame(rows))
    bands = _churn_by_quality_band(quality, flag, confidence)
    if bands is not None:
        tables["churn_by_quality_band"] = records(bands)

    outcome = _churn_model(customers, flag, quality, quality_column, confidence, alpha)
    notes.extend(outcome.notes)
    if outcome.model is not None:
        tables["churn_model"] = records(outcome.model.table)
        tests.append(outcome.model.test)
    return QualityChurn(tables, tests, notes, [churn_column, *measures, *outcome.terms], outcome.model)


def _point_biserial_test(name: str, r: float, p: float, n: int, alpha: float) -> StatTest:
    return StatTest(
        name=f"point-biserial: churn vs {name}",
        statistic=r,
        p_value=p,
        dof=n - 2,
        effect_size=r,
        effect_name="point-biserial r",
        interpretation=(
            f"{significance_words(p, alpha)}: {correlation_strength(r)} "
            f"{'positive' if r > 0 else 'negative'} association of churn with {name} (r = {r:.3f})"
        ),
    )


def _churn_by_quality_band(quality: pd.Series, flag: pd.Series, confidence: float) -> pd.DataFrame | None:
    """Churn rate per quartile of quality; None with too few customers or values to cut in four."""
    ok = quality.notna().to_numpy() & flag.notna().to_numpy()
    if ok.sum() < 8 or quality[ok].nunique() < 4:
        return None
    bands = pd.qcut(quality[ok].astype(float), q=4, duplicates="drop")
    frame = pd.DataFrame({"band": bands.to_numpy(), "churned": flag[ok].astype(bool).to_numpy()})
    table = frame.groupby("band", observed=True).agg(
        customers=("churned", "size"), churned=("churned", "sum")
    )
    table = table.reset_index()
    table["quality_band"] = table["band"].map(lambda b: f"{b.left:.2f} to {b.right:.2f}")
    add_rate(table, "churned", "customers", "churn_rate", confidence)
    return table[["quality_band", "customers", "churned", "churn_rate", "ci_low", "ci_high"]]


def _churn_model(
    customers: pd.DataFrame,
    flag: pd.Series,
    quality: pd.Series,
    quality_column: str,
    confidence: float,
    alpha: float,
) -> ModelOutcome:
    """Logit of churn on quality + account type + tenure; skipped (with a warning) when it cannot be fit."""
    notes: list[str] = []
    design = pd.DataFrame({quality_column: quality.to_numpy()}, index=customers.index)
    labels = {quality_column: f"{quality_column} (+1 point)"}
    used: list[str] = []
    if "tenure_days" in customers.columns:
        design["tenure_years"] = numeric_column(customers, "tenure_days", "customers").to_numpy() / 365.25
        labels["tenure_years"] = "tenure (+1 year)"
        used.append("tenure_days")
    y = flag.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    complete = design.notna().all(axis=1).to_numpy() & ~np.isnan(y)
    if "account_type" in customers.columns:
        account = segment_labels(customers["account_type"])
        counts = account[complete].value_counts()
        if len(counts) >= 2:
            reference = str(counts.index[0])
            for level in sorted(counts.index[1:]):
                name = f"account_type[{level}]"
                design[name] = (account == level).astype(float).to_numpy()
                labels[name] = f"account_type = {level} (vs {reference})"
            used.append("account_type")
    design, y = design.loc[complete], y[complete]
    if len(y) < 20 or y.sum() < 5 or (len(y) - y.sum()) < 5:
        notes.append("too few churned or retained customers with quality data to fit the churn model")
        return ModelOutcome(None, notes, used)
    fit = _fit_logit(design, y, notes)
    if fit is None:
        return ModelOutcome(None, notes, used)
    z = z_value(confidence)
    rows = []
    for term, label in labels.items():
        if term not in fit.params.index:
            continue
        beta, se = float(fit.params[term]), float(fit.bse[term])
        rows.append(
            {
                "term": label,
                "odds_ratio": math.exp(beta),
                "ci_low": math.exp(beta - z * se),
                "ci_high": math.exp(beta + z * se),
                "p_value": float(fit.pvalues[term]),
            }
        )
    odds_ratio, p_value = math.exp(float(fit.params[quality_column])), float(fit.pvalues[quality_column])
    controls = _controls(used)
    change = "lower" if odds_ratio < 1 else "higher"
    test = StatTest(
        name=f"logistic regression: churn ~ {quality_column}" + "".join(f" + {c}" for c in used),
        statistic=float(fit.tvalues[quality_column]),
        p_value=p_value,
        dof=int(fit.df_resid),
        effect_size=odds_ratio,
        effect_name=f"odds ratio per +1 {quality_column} (adjusted)",
        interpretation=(
            f"{significance_words(p_value, alpha)}: each extra quality point goes with "
            f"{odds_ratio:.2f}x the odds "
            f"of churn ({change}){controls}"
        ),
    )
    first = rows[0]
    model = ChurnModel(
        pd.DataFrame(rows), test, odds_ratio, first["ci_low"], first["ci_high"], p_value, controls, len(y)
    )
    return ModelOutcome(model, notes, used)


def _fit_logit(design: pd.DataFrame, y: np.ndarray, notes: list[str]) -> Any:
    """The statsmodels Logit fit, or None (with the reason in `notes`) when it is not trustworthy."""
    import statsmodels.api as sm  # lazily: statsmodels takes seconds to import
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    exog = sm.add_constant(design.astype(float), has_constant="add")
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("error", PerfectSeparationWarning)
            pywarnings.simplefilter("ignore", RuntimeWarning)
            pywarnings.simplefilter("ignore", ConvergenceWarning)  # checked via mle_retvals below
            fit = sm.Logit(y, exog).fit(disp=0, maxiter=200)
    except (PerfectSeparationError, PerfectSeparationWarning):
        notes.append(
            "churn is perfectly predicted by the model terms (separation); the churn model was skipped"
        )
        return None
    except (np.linalg.LinAlgError, ValueError) as exc:
        notes.append(f"the churn model could not be fitted ({exc}); a term may be constant or collinear")
        return None
    converged = bool(fit.mle_retvals.get("converged", True))
    if not converged or not np.all(np.isfinite(fit.bse)):
        notes.append("the churn model did not converge (near-separation or collinear terms); it was skipped")
        return None
    return fit


def _controls(used: list[str]) -> str:
    """' at the same account type and tenure' for the terms the model held fixed, else ''."""
    controls = [
        c
        for c in ("account type", "tenure")
        if ("account_type" if c == "account type" else "tenure_days") in used
    ]
    return f" at the same {' and '.join(controls)}" if controls else ""


def model_sentence(model: ChurnModel, quality_column: str, confidence: float) -> str:
    """The model's quality odds ratio in one sentence of the analysis summary."""
    return (
        f" Each point higher {quality_column} goes with {model.odds_ratio:.2f}x the odds of churn "
        f"({confidence:.0%} CI {model.ci_low:.2f}-{model.ci_high:.2f}, "
        f"{format_p(model.p_value)}){model.controls}, "
        f"n={model.customers:,} customers."
    )
