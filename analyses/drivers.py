"""Which customer features predict churn, and how strongly: cross-validated models + importances.

Two models on purpose: a logistic regression gives readable odds ratios, gradient boosting catches
non-linear effects and interactions; if boosting is clearly better, the odds ratios miss part of the
story. Importances are permutation-based on held-out data, so they measure predictive value rather
than how often a tree happened to split on a feature.
"""

from __future__ import annotations

import math
import re
import warnings as pywarnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from analyses._frame import (
    apply_filters,
    binary_outcome,
    coerce_decimals,
    ensure_frame,
    listing,
    numeric_column,
    require_columns,
    require_rows,
    segment_labels,
)
from analyses._json import records
from analyses.results import AnalysisError, AnalysisResult, ComputedOn
from analyses.steps import checkpoint

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

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
ID_PATTERN = re.compile(r"(^id$|_id$|^id_)", re.IGNORECASE)
DEFAULT_CATEGORICAL = ("account_type", "location", "gender")
MAX_AUTO_CATEGORIES = 20
MAX_CATEGORIES = 100
HOLDOUT_SHARE = 0.25


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
    # scikit-learn is imported here, not at module level, to keep `import analyses` light for the server
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from threadpoolctl import threadpool_limits

    features = ensure_frame(features, "features")
    if not 2 <= cv_folds <= 20:
        raise AnalysisError(f"cv_folds must be between 2 and 20, got {cv_folds}")
    if max_rows < 200:
        raise AnalysisError(f"max_rows must be at least 200, got {max_rows}")
    require_rows(features, "features")
    require_columns(features, [target], "features", "as the outcome (target)")
    numeric = [numeric] if isinstance(numeric, str) else numeric
    categorical = [categorical] if isinstance(categorical, str) else categorical
    for given, kind in ((numeric, "numeric"), (categorical, "categorical")):
        if given is not None:
            require_columns(features, given, "features", f"as a {kind} feature")
            if target in given:
                raise AnalysisError(f"'{target}' is the target; it cannot also be a {kind} feature")
    if numeric and categorical and set(numeric) & set(categorical):
        raise AnalysisError(
            f"columns listed as both numeric and categorical: {listing(set(numeric) & set(categorical))}"
        )

    frames, warnings = apply_filters({"features": features}, filters)
    data = coerce_decimals(frames["features"])
    require_rows(data, "features", filters)
    flag = binary_outcome(data[target], positive_label, target, "features")
    if flag.isna().any():
        warnings.append(f"{int(flag.isna().sum())} rows without a value in '{target}' left out")
        data, flag = data.loc[flag.notna().to_numpy()], flag[flag.notna()]
    y = flag.astype(bool).to_numpy().astype(int)
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

    notes: list[str] = []
    numeric_cols, categorical_cols, excluded = _select_features(data, target, numeric, categorical, notes)
    chosen_leaky = [c for c in (*numeric_cols, *categorical_cols) if c in LEAKY_COLUMNS]
    if chosen_leaky:
        warnings.append(
            f"{listing(chosen_leaky)} is known only after (or because of) churn; with it the models "
            "look better than they would be at predicting churn in advance"
        )
    if len(data) > max_rows:
        keep, _ = train_test_split(
            np.arange(len(data)), train_size=max_rows, stratify=y, random_state=random_state
        )
        keep = np.sort(keep)
        warnings.append(
            f"{len(data):,} rows were sampled down to {max_rows:,} (stratified by '{target}', seeded)"
        )
        data, y = data.iloc[keep], y[keep]

    x = pd.DataFrame(index=data.index)
    for column in numeric_cols:
        x[column] = numeric_column(data, column, "features").to_numpy()
    for column in categorical_cols:
        x[column] = segment_labels(data[column]).to_numpy()
    numeric_cols, categorical_cols = _drop_useless(x, numeric_cols, categorical_cols, warnings)
    if not numeric_cols and not categorical_cols:
        raise AnalysisError(
            "no usable feature columns (numeric or categorical with variation); pass numeric=[...] or "
            f"categorical=[...]; available columns: {listing(map(str, features.columns))}"
        )
    x = x[numeric_cols + categorical_cols]
    categories = [
        list(x[c].value_counts().index) for c in categorical_cols
    ]  # most frequent first = reference

    models = {
        "logistic_regression": _pipeline(
            numeric_cols, categorical_cols, categories, LogisticRegression(max_iter=1000), drop_first=True
        ),
        "gradient_boosting": _pipeline(
            numeric_cols,
            categorical_cols,
            categories,
            HistGradientBoostingClassifier(
                max_iter=100,
                learning_rate=0.1,
                max_leaf_nodes=15,
                min_samples_leaf=20,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=random_state,
            ),
            drop_first=False,
        ),
    }
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state)
    scores: dict[str, np.ndarray] = {}
    # one thread: on a shared 2-core host OpenMP's spinning threads made boosting 10-100x slower
    with pywarnings.catch_warnings(), threadpool_limits(limits=1):
        pywarnings.simplefilter("ignore", ConvergenceWarning)
        pywarnings.simplefilter("ignore", UserWarning)
        for name, model in models.items():
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
    with pywarnings.catch_warnings(), threadpool_limits(limits=1):
        pywarnings.simplefilter("ignore", ConvergenceWarning)
        pywarnings.simplefilter("ignore", UserWarning)
        fitted = models[best].fit(x_train, y_train)
        importance = permutation_importance(
            fitted, x_test, y_test, scoring="roc_auc", n_repeats=5, random_state=random_state, n_jobs=1
        )
    importance_table = pd.DataFrame(
        {
            "feature": list(x.columns),
            "kind": ["numeric"] * len(numeric_cols) + ["categorical"] * len(categorical_cols),
            "importance_mean": importance.importances_mean,
            "importance_std": importance.importances_std,
        }
    ).sort_values("importance_mean", ascending=False, kind="stable")
    importance_table["rank"] = np.arange(1, len(importance_table) + 1)

    with pywarnings.catch_warnings(), threadpool_limits(limits=1):
        pywarnings.simplefilter("ignore", ConvergenceWarning)
        logistic = models["logistic_regression"].fit(x, y)
    odds = _odds_ratios(logistic, x, numeric_cols, categorical_cols, categories)

    summary = _summary(model_table, best, importance_table, odds, y, target, positive_label, cv_folds)
    how = (
        f"models: ROC AUC of each model over {cv_folds}-fold stratified cross-validation (0.5 = no "
        "better than "
        "chance, 0.7 useful, 0.8+ strong), mean and standard deviation across folds. importance: permutation "
        f"importance of the {best.replace('_', ' ')} on a {HOLDOUT_SHARE:.0%} held-out split = drop in ROC "
        "AUC when the feature's values are shuffled (5 repeats); about 0 or negative = the model does "
        "not use "
        "it. A categorical feature counts as one feature. logistic_odds_ratios: from a logistic "
        "regression on "
        "standardised numbers (L2-regularised, C=1): odds_ratio_per_sd = change in churn odds for a one "
        "standard deviation (sd) higher value with the other features fixed; for a category, the odds vs the "
        "reference (most common) category. Correlated features share importance and can swap odds-ratio "
        "direction. These are associations, not causes."
    )
    if excluded:
        how += (
            f" Left out as identifiers or known only after churn (leakage): {listing(excluded)}; "
            "days_since_last_event, for instance, is large for churners because they churned."
        )
    if any(c in numeric_cols for c in ("total_events", "total_revenue", "active_months", "tenure_days")):
        how += (
            " Totals such as total_events, total_revenue, active_months and tenure_days grow with how long a "
            "customer stayed, so part of their signal is the churn itself."
        )
    if notes:
        how += " " + " ".join(notes)
    return AnalysisResult(
        analysis_type="drivers",
        summary=summary,
        how_to_read=how,
        computed_on=ComputedOn(
            rows=len(x), filters=dict(filters or {}), columns_used=[target, *numeric_cols, *categorical_cols]
        ),
        tables={
            "models": records(model_table),
            "importance": records(importance_table),
            "logistic_odds_ratios": records(odds),
        },
        warnings=warnings,
    )


def _select_features(
    data: pd.DataFrame,
    target: str,
    numeric: list[str] | None,
    categorical: list[str] | None,
    notes: list[str],
) -> tuple[list[str], list[str], list[str]]:
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
    return list(numeric), list(categorical), [c for c in excluded if c not in (numeric or [])]


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


def _pipeline(
    numeric_cols: list[str],
    categorical_cols: list[str],
    categories: list[list[str]],
    model: Any,
    *,
    drop_first: bool,
) -> Pipeline:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if numeric_cols:
        transformers.append(
            (
                "num",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric_cols,
            )
        )
    if categorical_cols:
        transformers.append(
            (
                "cat",
                OneHotEncoder(
                    categories=categories,
                    drop="first" if drop_first else None,
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                categorical_cols,
            )
        )
    return Pipeline([("prepare", ColumnTransformer(transformers)), ("model", model)])


def _odds_ratios(
    fitted: Pipeline,
    x: pd.DataFrame,
    numeric_cols: list[str],
    categorical_cols: list[str],
    categories: list[list[str]],
) -> pd.DataFrame:
    coefficients = fitted.named_steps["model"].coef_[0]
    rows: list[dict[str, Any]] = []
    for column in numeric_cols:
        rows.append({"feature": column, "kind": "numeric (per 1 SD)", "sd": float(x[column].std())})
    for column, levels in zip(categorical_cols, categories, strict=True):
        for level in levels[1:]:
            rows.append({"feature": f"{column} = {level} (vs {levels[0]})", "kind": "category", "sd": None})
    if len(rows) != len(coefficients):  # pragma: no cover - guards the name bookkeeping above
        raise RuntimeError("feature names and logistic coefficients are out of step")
    table = pd.DataFrame(rows)
    table["odds_ratio_per_sd"] = np.exp(coefficients)
    table["_size"] = np.abs(coefficients)
    table = table.sort_values("_size", ascending=False, kind="stable").drop(columns="_size")
    return table[["feature", "odds_ratio_per_sd", "kind", "sd"]]


def _summary(
    model_table: pd.DataFrame,
    best: str,
    importance: pd.DataFrame,
    odds: pd.DataFrame,
    y: np.ndarray,
    target: str,
    positive_label: Any,
    cv_folds: int,
) -> str:
    scores = model_table.set_index("model")
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
    useful = importance.loc[importance["importance_mean"] > 0].head(3)
    parts = []
    by_feature = odds.set_index("feature")["odds_ratio_per_sd"]
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
