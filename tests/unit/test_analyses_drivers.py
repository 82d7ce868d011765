"""drivers: signal vs noise, recovered odds ratio, leakage exclusion, foreign data, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analyses import AnalysisError, drivers


def dumps(result) -> str:
    return json.dumps(result.model_dump(), allow_nan=False)


def signal_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    quality = rng.normal(3.5, 0.5, n)
    account = rng.choice(["Basic", "Premium"], n)
    log_odds = -1.0 - 3.0 * (quality - 3.5) + 1.0 * (account == "Basic")
    churned = rng.random(n) < 1 / (1 + np.exp(-log_odds))
    return pd.DataFrame(
        {
            "customer_id": range(n),
            "account_type": account,
            "avg_quality_score": quality,
            "avg_monthly_revenue": rng.gamma(2, 10, n),
            # leaks the outcome: must be excluded by default
            "days_since_last_event": np.where(churned, 90, 1) + rng.integers(0, 5, n),
            "is_churned": churned,
        }
    )


def test_strong_signal_is_found_and_leaky_columns_are_excluded():
    result = drivers(signal_frame(), cv_folds=3)
    models = {r["model"]: r for r in result.tables["models"]}
    assert set(models) == {"logistic_regression", "gradient_boosting"}
    assert max(r["roc_auc_mean"] for r in models.values()) > 0.75
    assert all(r["folds"] == 3 for r in models.values())
    importance = result.tables["importance"]
    assert importance[0]["feature"] == "avg_quality_score" and importance[0]["rank"] == 1
    used = result.computed_on.columns_used
    assert "days_since_last_event" not in used and "customer_id" not in used
    assert "days_since_last_event" in result.how_to_read
    odds = {r["feature"]: r["odds_ratio_per_sd"] for r in result.tables["logistic_odds_ratios"]}
    assert odds["avg_quality_score"] < 1
    # the most common category is the reference; Basic churns more either way round
    if "account_type = Premium (vs Basic)" in odds:
        assert odds["account_type = Premium (vs Basic)"] < 1
    else:
        assert odds["account_type = Basic (vs Premium)"] > 1
    assert "avg_quality_score" in result.summary
    dumps(result)


def test_pure_noise_gives_chance_level_auc():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(1500, 4)), columns=["a", "b", "c", "d"])
    frame["is_churned"] = rng.random(1500) < 0.3
    result = drivers(frame, cv_folds=3)
    for row in result.tables["models"]:
        assert 0.4 < row["roc_auc_mean"] < 0.6
    assert "little signal" in result.summary


def test_logistic_odds_ratio_per_sd_is_recovered():
    rng = np.random.default_rng(7)
    n = 5000
    x = rng.normal(size=n)
    other = rng.normal(size=n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.7 * x)))
    frame = pd.DataFrame({"x": x, "other": other, "is_churned": churned})
    result = drivers(frame, cv_folds=3)
    odds = {r["feature"]: r for r in result.tables["logistic_odds_ratios"]}
    # one SD of x is ~1, so the odds ratio per SD is ~exp(0.7)
    assert odds["x"]["odds_ratio_per_sd"] == pytest.approx(math.exp(0.7), abs=0.15)
    assert odds["other"]["odds_ratio_per_sd"] == pytest.approx(1.0, abs=0.15)
    assert odds["x"]["sd"] == pytest.approx(1.0, abs=0.05)


def test_foreign_kaggle_style_data():
    rng = np.random.default_rng(9)
    n = 1200
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    tenure = rng.integers(0, 72, n)
    log_odds = -2 + 2.0 * (contract == "Month-to-month") - 0.03 * tenure
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-log_odds)), "Yes", "No")
    total = (tenure * 50.0).astype(str)
    total[:5] = " "  # the Kaggle set's blanks
    frame = pd.DataFrame(
        {
            "customerID": [f"{i:04d}-ABCD" for i in range(n)],
            "Contract": contract,
            "tenure": tenure,
            "MonthlyCharges": rng.uniform(20, 110, n),
            "TotalCharges": total,
            "Churn": churn,
        }
    )
    result = drivers(frame, target="Churn", positive_label="Yes", cv_folds=3)
    assert "Contract" in result.computed_on.columns_used  # picked automatically as a categorical
    assert "customerID" not in result.computed_on.columns_used
    assert max(r["roc_auc_mean"] for r in result.tables["models"]) > 0.7
    assert {r["feature"] for r in result.tables["importance"][:2]} <= {"Contract", "tenure"}
    dumps(result)


def test_large_inputs_are_sampled_deterministically():
    frame = signal_frame(n=1200)
    first = drivers(frame, cv_folds=3, max_rows=600)
    second = drivers(frame, cv_folds=3, max_rows=600)
    assert first.computed_on.rows == 600
    assert any("sampled down" in w for w in first.warnings)
    assert first.tables == second.tables


def test_errors_say_what_to_change():
    frame = signal_frame(n=300)
    with pytest.raises(AnalysisError, match=r"'churned'.*available columns: customer_id, account_type"):
        drivers(frame, target="churned")
    with pytest.raises(AnalysisError, match=r"only one class"):
        drivers(frame.assign(is_churned=False))
    with pytest.raises(AnalysisError, match=r"smaller class"):
        drivers(frame.assign(is_churned=[True] * 3 + [False] * 297), cv_folds=5)
    with pytest.raises(AnalysisError, match=r"values other than 0 and 1"):
        drivers(frame, target="avg_monthly_revenue")
    with pytest.raises(AnalysisError, match=r"Observed values: Basic, Premium"):
        drivers(frame, target="account_type")
    with pytest.raises(AnalysisError, match=r"has no rows"):
        drivers(frame.iloc[0:0])
    with pytest.raises(AnalysisError, match=r"'bogus'.*available columns"):
        drivers(frame, numeric=["bogus"])
