"""The scikit-learn side of `drivers`: the two models, their column preparation and odds ratios.

Apart from `analyses.drivers` so that the analysis reads as checks, steps and words, and because
everything here imports scikit-learn lazily: `import analyses` stays light for the server.
"""

from __future__ import annotations

import warnings as pywarnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@contextmanager
def one_quiet_thread() -> Iterator[None]:
    """One thread: on a shared 2-core host OpenMP's spinning threads made boosting 10-100x slower.

    Convergence and feature-name warnings are silenced: they would only reach the server log.
    """
    # scikit-learn is imported lazily, not at module level, to keep `import analyses` light for the server
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with pywarnings.catch_warnings(), threadpool_limits(limits=1):
        pywarnings.simplefilter("ignore", ConvergenceWarning)
        pywarnings.simplefilter("ignore", UserWarning)
        yield


def models(
    numeric_cols: list[str], categorical_cols: list[str], categories: list[list[str]], random_state: int
) -> dict[str, Pipeline]:
    """The readable model and the flexible one, each behind the same preparation of the columns."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    columns = (numeric_cols, categorical_cols, categories)
    return {
        "logistic_regression": _pipeline(*columns, LogisticRegression(max_iter=1000), drop_first=True),
        "gradient_boosting": _pipeline(
            *columns,
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


def odds_ratios(
    fitted: Pipeline,
    x: pd.DataFrame,
    numeric_cols: list[str],
    categorical_cols: list[str],
    categories: list[list[str]],
) -> pd.DataFrame:
    """Odds ratio per coefficient of the fitted logistic pipeline, largest effect first.

    Numbers were standardised, so theirs are per 1 SD (the SD is listed to convert back); a category's
    is against the reference level, the most common one.
    """
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
