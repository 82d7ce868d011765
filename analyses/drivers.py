"""Which customer features predict churn, and how strongly: cross-validated models + importances.

Two models on purpose: a logistic regression gives readable odds ratios, gradient boosting catches
non-linear effects and interactions; if boosting is clearly better, the odds ratios miss part of the
story. Importances are permutation-based on held-out data, so they measure predictive value rather
than how often a tree happened to split on a feature.

`drivers` runs three steps: `_checked_inputs` (parameters and table -> `AnalysisError`s and the
feature matrix), `_computed` (features -> `DriversFindings`) and `_summary` / `_how_to_read`
(numbers -> words).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses._checks import ID_PATTERN, as_list, filtered_inputs
from analyses._driver_models import models, odds_ratios, one_quiet_thread
from analyses._frame import (
    binary_outcome,
    ensure_frame,
    listing,
    numeric_column,
    require_columns,
    require_rows,
    segment_labels,
)
from analyses._json import records
from analyses.results import AnalysisError, AnalysisResult, Findings
from analyses.spec import FILTERS_DOC, AnalysisSpec, FrameSpec, MartSource, SummaryChart
from analyses.steps import checkpoint

# Known after (or because of) churn: they would "predict" churn perfectly and explain nothing.
LEAKY_COLUMNS = frozenset(
    {
        "customer_id",
        "churn_date",
        "churned_at",
        "churn_month",
        "days_since_last_event",
        "last_event_at",
        "as_of_date",
    }
)
DEFAULT_CATEGORICAL = ("account_type", "location", "gender")
MAX_AUTO_CATEGORIES = 20
MAX_CATEGORIES = 100
HOLDOUT_SHARE = 0.25
TENURE_TOTALS = ("total_events", "total_revenue", "active_months", "tenure_days")


def drivers(
    features: pd.DataFrame,
    *,
    target: str = "is_churned",
    positive_label: Any = True,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    cv_folds: int = 5,
    random_state: int = 0,
    max_rows: int = 50_000,
    filters: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Cross-validated ROC AUC of two models, permutation importance and odds ratios per 1 SD.

    `features`: one row per customer with a yes/no `target` (our `customer_features`, or e.g. the
    Kaggle Telco set with target="Churn", positive_label="Yes").
    """
    inputs = _checked_inputs(
        features,
        target=target,
        positive_label=positive_label,
        numeric=numeric,
        categorical=categorical,
        cv_folds=cv_folds,
        random_state=random_state,
        max_rows=max_rows,
        filters=filters,
    )
    findings = _computed(inputs, cv_folds=cv_folds, random_state=random_state)
    return findings.result(
        "drivers",
        summary=_summary(findings, target, positive_label, cv_folds),
        how_to_read=_how_to_read(findings, cv_folds),
        filters=filters,
    )


# ---------------------------------------------------------------------------------------- validate


@dataclass(frozen=True, eq=False)
class DriversInputs:
    """The feature matrix and 0/1 outcome the models get, and what the reader is told about them.

    `categories` lists each categorical column's levels, most frequent first (the reference level).
    """

    x: pd.DataFrame
    y: np.ndarray
    target: str
    numeric_cols: list[str]
    categorical_cols: list[str]
    categories: list[list[str]]
    excluded: list[str]
    notes: list[str]
    warnings: list[str]


class FeatureChoice(NamedTuple):
    """Feature columns by kind, and the id-like or leaky columns left out of the defaults."""

    numeric: list[str]
    categorical: list[str]
    excluded: list[str]


def _checked_inputs(
    features: pd.DataFrame,
    *,
    target: str,
    positive_label: Any,
    numeric: list[str] | None,
    categorical: list[str] | None,
    cv_folds: int,
    random_state: int,
    max_rows: int,
    filters: dict[str, Any] | None,
) -> DriversInputs:
    """Every check that needs no model, in the order the caller should fix them."""
    features = ensure_frame(features, "features")
    if not 2 <= cv_folds <= 20:
        raise AnalysisError(f"cv_folds must be between 2 and 20, got {cv_folds}")
    if max_rows < 200:
        raise AnalysisError(f"max_rows must be at least 200, got {max_rows}")
    require_rows(features, "features")
    require_columns(features, [target], "features", "as the outcome (target)")
    numeric, categorical = as_list(numeric), as_list(categorical)
    for given, kind in ((numeric, "numeric"), (categorical, "categorical")):
        if given is not None:
            require_columns(features, given, "features", f"as a {kind} feature")
            if target in given:
                raise AnalysisError(f"'{target}' is the target; it cannot also be a {kind} feature")
    if numeric and categorical and set(numeric) & set(categorical):
        raise AnalysisError(
            f"columns listed as both numeric and categorical: {listing(set(numeric) & set(categorical))}"
        )

    filtered = filtered_inputs("features", features, filters)
    data, warnings = filtered.primary, filtered.warnings
    flag = binary_outcome(data[target], positive_label, target, "features")
    if flag.isna().any():
        warnings.append(f"{int(flag.isna().sum())} rows without a value in '{target}' left out")
        data, flag = data.loc[flag.notna().to_numpy()], flag[flag.notna()]
    y = flag.astype(bool).to_numpy().astype(int)
    _require_both_classes(y, target, positive_label, cv_folds)
    return _feature_matrix(
        data,
        y,
        target=target,
        numeric=numeric,
        categorical=categorical,
        random_state=random_state,
        max_rows=max_rows,
        warnings=warnings,
    )


def _feature_matrix(
    data: pd.DataFrame,
    y: np.ndarray,
    *,
    target: str,
    numeric: list[str] | None,
    categorical: list[str] | None,
    random_state: int,
    max_rows: int,
    warnings: list[str],
) -> DriversInputs:
    """The chosen feature columns as model input, sampled down to `max_rows` rows when larger."""
    notes: list[str] = []
    chosen = _select_features(data, target, numeric, categorical, notes)
    leaky = [c for c in (*chosen.numeric, *chosen.categorical) if c in LEAKY_COLUMNS]
    if leaky:
        warnings.append(
            f"{listing(leaky)} is known only after (or because of) churn; with it the models "
            "look better than they would be at predicting churn in advance"
        )
    if len(data) > max_rows:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(
            np.arange(len(data)), train_size=max_rows, stratify=y, random_state=random_state
        )
        keep = np.sort(keep)
        warnings.append(
            f"{len(data):,} rows were sampled down to {max_rows:,} (stratified by '{target}', seeded)"
        )
        data, y = data.iloc[keep], y[keep]

    x = pd.DataFrame(index=data.index)
    for column in chosen.numeric:
        x[column] = numeric_column(data, column, "features").to_numpy()
    for column in chosen.categorical:
        x[column] = segment_labels(data[column]).to_numpy()
    numeric_cols, categorical_cols = _drop_useless(x, chosen.numeric, chosen.categorical, warnings)
    if not numeric_cols and not categorical_cols:
        raise AnalysisError(
            "no usable feature columns (numeric or categorical with variation); pass numeric=[...] or "
            f"categorical=[...]; available columns: {listing(map(str, data.columns))}"
        )
    x = x[numeric_cols + categorical_cols]
    return DriversInputs(
        x=x,
        y=y,
        target=target,
        numeric_cols=numeric_cols,
        categorical_cols=categorical_cols,
        categories=[list(x[c].value_counts().index) for c in categorical_cols],
        excluded=chosen.excluded,
        notes=notes,
        warnings=warnings,
    )


def _require_both_classes(y: np.ndarray, target: str, positive_label: Any, cv_folds: int) -> None:
    """Each fold of the stratified cross-validation needs a row of either outcome."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        raise AnalysisError(
            f"'{target}' has only one class here ({'all' if negatives == 0 else 'no'} rows are "
            f"{positive_label!r}); "
            "drivers needs both outcomes, check target/positive_label or loosen the filters"
        )
    if min(positives, negatives) < cv_folds:
        raise AnalysisError(
            f"only {min(positives, negatives)} rows in the smaller class of '{target}'; need at least "
            f"cv_folds={cv_folds} (and realistically 50+) for a cross-validated model"
        )


def _select_features(
    data: pd.DataFrame,
    target: str,
    numeric: list[str] | None,
    categorical: list[str] | None,
    notes: list[str],
) -> FeatureChoice:
    excluded = sorted(
        str(c)
        for c in data.columns
        if str(c) != target and (str(c) in LEAKY_COLUMNS or ID_PATTERN.search(str(c)))
    )
    blocked = {target, *excluded}
    if categorical is None:
        categorical = [c for c in DEFAULT_CATEGORICAL if c in data.columns and c not in blocked]
        if not categorical:
            categorical = [
                str(c)
                for c in data.columns
                if str(c) not in blocked
                and str(c) not in (numeric or [])
                and not ptypes.is_numeric_dtype(data[c].dtype)
                and not ptypes.is_bool_dtype(data[c].dtype)
                and not ptypes.is_datetime64_any_dtype(data[c].dtype)
                and 2 <= data[c].nunique() <= MAX_AUTO_CATEGORIES
            ]
            if categorical:
                notes.append(
                    f"Categorical features picked automatically (text columns with 2-{MAX_AUTO_CATEGORIES} "
                    f"values): {listing(categorical)}."
                )
    if numeric is None:
        numeric = [
            str(c)
            for c in data.columns
            if str(c) not in blocked
            and str(c) not in categorical
            and (ptypes.is_numeric_dtype(data[c].dtype) or ptypes.is_bool_dtype(data[c].dtype))
        ]
    for column in categorical:
        if data[column].nunique() > MAX_CATEGORIES:
            raise AnalysisError(
                f"categorical feature '{column}' has {data[column].nunique()} distinct values; use at most "
                f"{MAX_CATEGORIES} (or pass it as numeric)"
            )
    return FeatureChoice(list(numeric), list(categorical), [c for c in excluded if c not in (numeric or [])])


def _drop_useless(
    x: pd.DataFrame, numeric_cols: list[str], categorical_cols: list[str], warnings: list[str]
) -> tuple[list[str], list[str]]:
    """Constant or empty columns carry no signal and break imputation/one-hot encoding."""
    useless = [c for c in numeric_cols if x[c].nunique(dropna=True) < 2]
    useless += [c for c in categorical_cols if x[c].nunique() < 2]
    if useless:
        warnings.append(f"constant or empty feature(s) left out: {listing(useless)}")
    sparse = [c for c in numeric_cols if c not in useless and x[c].isna().mean() > 0.5]
    if sparse:
        warnings.append(f"more than half missing (filled with the median): {listing(sparse)}")
    return [c for c in numeric_cols if c not in useless], [c for c in categorical_cols if c not in useless]


# ----------------------------------------------------------------------------------------- compute


@dataclass(kw_only=True, eq=False)
class DriversFindings(Findings):
    """Model scores, the chosen model, importances and odds ratios the summary quotes."""

    model_table: pd.DataFrame
    best: str
    importance: pd.DataFrame
    odds: pd.DataFrame
    y: np.ndarray
    numeric_cols: list[str]
    excluded: list[str]
    notes: list[str]


def _computed(inputs: DriversInputs, *, cv_folds: int, random_state: int) -> DriversFindings:
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

    x, y = inputs.x, inputs.y
    candidates = models(inputs.numeric_cols, inputs.categorical_cols, inputs.categories, random_state)
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state)
    scores: dict[str, np.ndarray] = {}
    with one_quiet_thread():
        for name, model in candidates.items():
            checkpoint()
            scores[name] = cross_val_score(model, x, y, cv=folds, scoring="roc_auc", n_jobs=1)
    model_table = pd.DataFrame(
        [
            {
                "model": name,
                "roc_auc_mean": float(s.mean()),
                "roc_auc_std": float(s.std(ddof=1)),
                "folds": len(s),
            }
            for name, s in scores.items()
        ]
    ).sort_values("roc_auc_mean", ascending=False, kind="stable")
    best = str(model_table.iloc[0]["model"])
    if math.isclose(scores[best].mean(), scores["logistic_regression"].mean(), abs_tol=0.005):
        best = "logistic_regression"  # as good within noise and far easier to explain

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=HOLDOUT_SHARE, stratify=y, random_state=random_state
    )
    with one_quiet_thread():
        fitted = candidates[best].fit(x_train, y_train)
        importance = permutation_importance(
            fitted, x_test, y_test, scoring="roc_auc", n_repeats=5, random_state=random_state, n_jobs=1
        )
    importance_table = pd.DataFrame(
        {
            "feature": list(x.columns),
            "kind": ["numeric"] * len(inputs.numeric_cols) + ["categorical"] * len(inputs.categorical_cols),
            "importance_mean": importance.importances_mean,
            "importance_std": importance.importances_std,
        }
    ).sort_values("importance_mean", ascending=False, kind="stable")
    importance_table["rank"] = np.arange(1, len(importance_table) + 1)

    with one_quiet_thread():
        logistic = candidates["logistic_regression"].fit(x, y)
    odds = odds_ratios(logistic, x, inputs.numeric_cols, inputs.categorical_cols, inputs.categories)
    return DriversFindings(
        rows=len(x),
        tables={
            "models": records(model_table),
            "importance": records(importance_table),
            "logistic_odds_ratios": records(odds),
        },
        warnings=inputs.warnings,
        columns_used=[inputs.target, *inputs.numeric_cols, *inputs.categorical_cols],
        model_table=model_table,
        best=best,
        importance=importance_table,
        odds=odds,
        y=y,
        numeric_cols=inputs.numeric_cols,
        excluded=inputs.excluded,
        notes=inputs.notes,
    )


# ----------------------------------------------------------------------------------------- narrate


def _summary(findings: DriversFindings, target: str, positive_label: Any, cv_folds: int) -> str:
    best, y = findings.best, findings.y
    scores = findings.model_table.set_index("model")
    best_auc = float(scores.loc[best, "roc_auc_mean"])
    other = next(m for m in scores.index if m != best)
    label = target if positive_label is True else f"{target} = {positive_label!r}"
    text = (
        f"{y.mean():.1%} of {len(y):,} rows have {label}. Best model: {best.replace('_', ' ')} with ROC AUC "
        f"{best_auc:.3f} ± {float(scores.loc[best, 'roc_auc_std']):.3f} ({cv_folds}-fold CV; "
        f"{other.replace('_', ' ')} {float(scores.loc[other, 'roc_auc_mean']):.3f})."
    )
    if best_auc < 0.6:
        return (
            text
            + " The features carry little signal about the outcome (0.5 = chance), so no driver stands out."
        )
    importance = findings.importance
    useful = importance.loc[importance["importance_mean"] > 0].head(3)
    parts = []
    by_feature = findings.odds.set_index("feature")["odds_ratio_per_sd"]
    for feature, kind in zip(useful["feature"], useful["kind"], strict=True):
        if kind == "numeric" and feature in by_feature.index:
            ratio = float(by_feature[feature])
            parts.append(
                f"{feature} (higher -> {'higher' if ratio > 1 else 'lower'} odds, OR {ratio:.2f} per SD)"
            )
        else:
            parts.append(str(feature))
    if parts:
        text += f" Strongest drivers (permutation importance): {'; '.join(parts)}."
    return text


def _how_to_read(findings: DriversFindings, cv_folds: int) -> str:
    how = (
        f"models: ROC AUC of each model over {cv_folds}-fold stratified cross-validation (0.5 = no "
        "better than "
        "chance, 0.7 useful, 0.8+ strong), mean and standard deviation across folds. importance: permutation "
        f"importance of the {findings.best.replace('_', ' ')} on a {HOLDOUT_SHARE:.0%} held-out split = drop "
        "in ROC AUC when the feature's values are shuffled (5 repeats); about 0 or negative = the model does "
        "not use "
        "it. A categorical feature counts as one feature. logistic_odds_ratios: from a logistic "
        "regression on "
        "standardised numbers (L2-regularised, C=1): odds_ratio_per_sd = change in churn odds for a one "
        "standard deviation (sd) higher value with the other features fixed; for a category, the odds vs the "
        "reference (most common) category. Correlated features share importance and can swap odds-ratio "
        "direction. These are associations, not causes."
    )
    if findings.excluded:
        how += (
            f" Left out as identifiers or known only after churn (leakage): {listing(findings.excluded)}; "
            "days_since_last_event, for instance, is large for churners because they churned."
        )
    if any(c in findings.numeric_cols for c in TENURE_TOTALS):
        how += (
            " Totals such as total_events, total_revenue, active_months and tenure_days grow with how long a "
            "customer stayed, so part of their signal is the churn itself."
        )
    if findings.notes:
        how += " " + " ".join(findings.notes)
    return how


def _top_drivers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 15 most important features: a chart of all of them is unreadable."""
    return rows[:15]


SPEC = AnalysisSpec(
    name="drivers",
    title="Churn drivers: cross-validated models and feature importance",
    brief="cross-validated models of churn, feature importance",
    position=5,
    function=drivers,
    frames=[
        FrameSpec(
            name="features",
            required=True,
            description="One row per customer with a yes/no target and features (marts.customer_features).",
            columns=["is_churned", "account_type", "location", "gender", "avg_quality_score", "usage_trend"],
            source=MartSource(mart="customer_features"),
        )
    ],
    parameter_docs={
        "target": "Yes/no outcome column to explain (e.g. 'Churn').",
        "positive_label": "Value of target that is the positive case (True, or e.g. 'Yes').",
        "numeric": "Numeric feature columns; default all numeric columns except the target, ids and columns "
        "that leak churn (days_since_last_event, churn_date, ...).",
        "categorical": "Categorical feature columns; default account_type, location, gender when present, "
        "otherwise text columns with 2-20 values.",
        "cv_folds": "Folds of the stratified cross-validation.",
        "random_state": "Seed for the folds, the held-out split and sampling (results are reproducible).",
        "max_rows": "Larger inputs are sampled down to this many rows (stratified, seeded).",
        "filters": FILTERS_DOC,
    },
    raw_tables=("customers",),
    main_table="importance",
    chart=SummaryChart(
        table="importance",
        chart_type="bar",
        x_axis="feature",
        y_axis="importance_mean",
        title="Churn drivers",
        rows=_top_drivers,
    ),
)
