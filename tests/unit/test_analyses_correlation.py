"""correlation: known r by construction, pairwise-complete n, column selection and errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analyses import AnalysisError, correlation


def dumps(result) -> str:
    return json.dumps(result.model_dump(), allow_nan=False)


def exact_pair(r: float, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x and y whose sample Pearson correlation is exactly r (noise orthogonalised against x)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x = (x - x.mean()) / x.std()
    z = rng.normal(size=n)
    z -= z.mean()
    z -= (z @ x) / (x @ x) * x
    z /= z.std()
    return x, r * x + np.sqrt(1 - r * r) * z


def pair(result, a: str, b: str) -> dict:
    return next(r for r in result.tables["matrix"] if {r["column_a"], r["column_b"]} == {a, b})


def test_pearson_recovers_a_constructed_correlation():
    x, y = exact_pair(0.6)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": x, "y": y, "noise": rng.normal(size=200)})
    result = correlation(frame)
    xy = pair(result, "x", "y")
    assert xy["r"] == pytest.approx(0.6, abs=1e-4)
    assert xy["n"] == 200
    assert xy["p_value"] == pytest.approx(stats.pearsonr(x, y).pvalue, rel=1e-2)
    assert xy["ci_low"] < 0.6 < xy["ci_high"]
    assert xy["strength"] == "strong"
    assert len(result.tables["matrix"]) == 3  # upper triangle only
    assert result.tables["significant_pairs"][0]["column_a"] == "x"
    assert result.tables["significant_pairs"][0]["direction"] == "positive"
    dumps(result)


def test_spearman_is_one_for_a_monotonic_curve():
    x = np.arange(1, 51, dtype=float)
    frame = pd.DataFrame({"x": x, "cube": x**3, "falling": -np.exp(x / 10)})
    result = correlation(frame, method="spearman")
    assert pair(result, "x", "cube")["r"] == pytest.approx(1.0)
    assert pair(result, "x", "falling")["r"] == pytest.approx(-1.0)
    pearson = correlation(frame, method="pearson")
    assert pair(pearson, "x", "cube")["r"] == pytest.approx(np.corrcoef(x, x**3)[0, 1], abs=1e-4)


def test_pairwise_complete_observations_and_holm_adjustment():
    rng = np.random.default_rng(2)
    a = rng.normal(size=100)
    b = a + rng.normal(scale=0.5, size=100)
    c = rng.normal(size=100)
    b_missing = b.copy()
    b_missing[:20] = np.nan
    frame = pd.DataFrame({"a": a, "b": b_missing, "c": c})
    result = correlation(frame)
    assert pair(result, "a", "b")["n"] == 80
    assert pair(result, "a", "c")["n"] == 100
    assert pair(result, "a", "b")["r"] == pytest.approx(np.corrcoef(a[20:], b[20:])[0, 1], abs=1e-4)
    raw = [stats.pearsonr(*p).pvalue for p in ((a[20:], b[20:]), (a, c), (b[20:], c[20:]))]
    holm = multipletests(raw, method="holm")[1]
    got = [pair(result, *names)["p_adjusted"] for names in (("a", "b"), ("a", "c"), ("b", "c"))]
    assert got == pytest.approx(list(holm), rel=1e-2)


def test_default_columns_numeric_and_boolean_without_ids():
    frame = pd.DataFrame(
        {
            "customer_id": range(50),
            "tenure": np.arange(50.0),
            "is_churned": [True, False] * 25,
            "location": ["N", "S"] * 25,
            "constant": 1.0,
        }
    )
    result = correlation(frame)
    assert result.computed_on.columns_used == ["tenure", "is_churned"]
    assert "location" in result.how_to_read
    assert any("'constant' is constant" in w for w in result.warnings)


def test_yes_no_and_numeric_text_columns_when_named():
    frame = pd.DataFrame(
        {
            "tenure": [1, 5, 10, 20, 30, 40, 50, 60],
            "TotalCharges": ["10", "50", " ", "200", "300", "400", "500", "600"],
            "Churn": ["Yes", "Yes", "Yes", "No", "No", "No", "No", "No"],
        }
    )
    result = correlation(frame, columns=["tenure", "TotalCharges", "Churn"])
    churn = pair(result, "tenure", "Churn")
    expected = np.corrcoef(frame["tenure"], (frame["Churn"] == "Yes").astype(float))[0, 1]
    assert churn["r"] == pytest.approx(expected, abs=1e-4)
    assert pair(result, "tenure", "TotalCharges")["n"] == 7


def test_errors_say_what_to_change():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "location": ["N", "S", "E"]})
    with pytest.raises(AnalysisError, match=r"cannot correlate 'location'.*not numeric"):
        correlation(frame, columns=["a", "location"])
    with pytest.raises(AnalysisError, match=r"at least 2 numeric columns.*available columns: a, location"):
        correlation(frame)
    with pytest.raises(AnalysisError, match=r"'b'.*available columns: a, location"):
        correlation(frame, columns=["a", "b"])
    with pytest.raises(AnalysisError, match=r"has no rows"):
        correlation(frame.iloc[0:0])
    with pytest.raises(AnalysisError, match=r"pearson' or 'spearman"):
        correlation(frame, method="kendall")
