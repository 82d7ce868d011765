"""churn_rate against hand computations: rates, Wilson bounds, chi-square, monthly trend, cohorts."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses import AnalysisError, churn_rate

Z95 = 1.959963984540054


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def dumps(result) -> str:
    return json.dumps(result.model_dump(), allow_nan=False)


@pytest.fixture()
def two_segments() -> pd.DataFrame:
    """Basic: 30 of 100 churned; Premium: 10 of 100 churned."""
    return pd.DataFrame(
        {
            "customer_id": range(200),
            "account_type": ["Basic"] * 100 + ["Premium"] * 100,
            "is_churned": [True] * 30 + [False] * 70 + [True] * 10 + [False] * 90,
        }
    )


def test_rates_and_wilson_bounds_match_the_formula(two_segments):
    result = churn_rate(two_segments)

    overall = result.tables["overall"][0]
    assert overall["customers"] == 200 and overall["churned"] == 40
    assert overall["churn_rate"] == pytest.approx(0.2)
    low, high = wilson(40, 200)
    assert overall["ci_low"] == pytest.approx(low, abs=1e-4)
    assert overall["ci_high"] == pytest.approx(high, abs=1e-4)

    rows = result.tables["by_segment"]
    assert [r["segment"] for r in rows] == ["Basic", "Premium"]  # highest churn first
    basic, premium = rows
    assert (basic["customers"], basic["churned"], basic["churn_rate"]) == (100, 30, 0.3)
    assert premium["churn_rate"] == pytest.approx(0.1)
    for row, x in ((basic, 30), (premium, 10)):
        low, high = wilson(x, 100)
        assert row["ci_low"] == pytest.approx(low, abs=1e-4)
        assert row["ci_high"] == pytest.approx(high, abs=1e-4)
    assert result.computed_on.rows == 200
    assert "account_type" in result.computed_on.columns_used
    dumps(result)


def test_chi_square_matches_hand_value_and_scipy(two_segments):
    test = churn_rate(two_segments).tests[0]
    # chi2 = n (ad - bc)^2 / (row and column totals) = 200 * 2000^2 / (100 * 100 * 40 * 160) = 12.5
    assert test.statistic == pytest.approx(12.5)
    assert test.dof == 1
    assert test.p_value == pytest.approx(stats.chi2.sf(12.5, 1))
    expected = stats.chi2_contingency(np.array([[30, 70], [10, 90]]), correction=False)
    assert test.p_value == pytest.approx(expected.pvalue)
    assert test.effect_size == pytest.approx(math.sqrt(12.5 / 200))
    assert "Cramér" in test.effect_name
    assert test.interpretation.startswith("significant at 5%")


def test_summary_names_the_largest_difference(two_segments):
    result = churn_rate(two_segments)
    assert "20.0%" in result.summary
    assert "Basic 30.0%" in result.summary and "Premium 10.0%" in result.summary


def test_foreign_column_names_kaggle_style():
    frame = pd.DataFrame(
        {
            "customerID": [f"c{i}" for i in range(120)],
            "Contract": ["Month-to-month"] * 60 + ["Two year"] * 60,
            "Churn": ["Yes"] * 24 + ["No"] * 36 + ["Yes"] * 3 + ["No"] * 57,
        }
    )
    result = churn_rate(frame, churn_column="Churn", positive_label="Yes", segment_by=["Contract"])
    rows = {r["segment"]: r for r in result.tables["by_segment"]}
    assert rows["Month-to-month"]["churn_rate"] == pytest.approx(0.4)
    assert rows["Two year"]["churn_rate"] == pytest.approx(0.05)
    assert result.tests[0].name == "chi-square: churn vs Contract"
    assert "cohort_retention" not in result.tables
    # tolerant reading: True means "yes" for yes/no text, and labels are matched case-insensitively
    assert (
        churn_rate(frame, churn_column="Churn", segment_by=["Contract"]).tables["overall"][0]["churned"] == 27
    )
    lower = churn_rate(frame, churn_column="Churn", positive_label="yes", segment_by=[])
    assert lower.tables["overall"][0]["churned"] == 27
    dumps(result)


def test_default_segments_are_the_mart_columns_present():
    frame = pd.DataFrame(
        {
            "account_type": ["A", "B"] * 50,
            "location": ["N", "S", "E", "W"] * 25,
            "tenure_days": range(100),
            "is_churned": [True, False, False, False] * 25,
        }
    )
    result = churn_rate(frame)
    assert {r["segment_column"] for r in result.tables["by_segment"]} == {"account_type", "location"}
    assert [t.name for t in result.tests] == [
        "chi-square: churn vs account_type",
        "chi-square: churn vs location",
    ]


def test_monthly_trend_sums_segments_over_complete_months():
    monthly = pd.DataFrame(
        {
            "month": ["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01", "2024-03-01", "2024-03-01"],
            "account_type": ["Basic", "Premium"] * 3,
            "location": ["North"] * 6,
            "customers_at_risk": [100, 50, 90, 60, 80, 70],
            "customers_churned": [10, 5, 9, 3, 1, 1],
            "is_complete_month": [True, True, True, True, False, False],
        }
    )
    customers = pd.DataFrame({"is_churned": [True, False, False]})
    result = churn_rate(customers, monthly=monthly, segment_by=[])
    trend = result.tables["monthly_trend"]
    assert [r["month"] for r in trend] == ["2024-01-01", "2024-02-01"]
    assert (trend[0]["at_risk"], trend[0]["churned"]) == (150, 15)
    assert trend[0]["churn_rate"] == pytest.approx(0.1)
    assert trend[1]["churn_rate"] == pytest.approx(12 / 150)
    low, high = wilson(12, 150)
    assert (trend[1]["ci_low"], trend[1]["ci_high"]) == (
        pytest.approx(low, abs=1e-4),
        pytest.approx(high, abs=1e-4),
    )
    assert result.computed_on.time_range == ("2024-01-01", "2024-02-01")
    assert any("2024-03" in w for w in result.warnings)


def test_cohort_retention_hand_example():
    # Jan cohort: A churns in Jan (offset 0), B in Mar (offset 2), C and D stay.
    # Feb cohort: E churns in Mar (offset 1), F stays. Latest month in the data: March.
    frame = pd.DataFrame(
        {
            "customer_id": list("ABCDEF"),
            "signup_month": pd.to_datetime(["2024-01-01"] * 4 + ["2024-02-01"] * 2),
            "is_churned": [True, True, False, False, True, False],
            "churn_month": pd.to_datetime(["2024-01-01", "2024-03-01", None, None, "2024-03-01", None]),
        }
    )
    result = churn_rate(frame, segment_by=[])
    got = {
        (r["cohort"], r["months_since_signup"]): r["retained_share"]
        for r in result.tables["cohort_retention"]
    }
    assert got == {
        ("2024-01-01", 0): 0.75,
        ("2024-01-01", 1): 0.75,
        ("2024-01-01", 2): 0.5,
        ("2024-02-01", 0): 1.0,
        ("2024-02-01", 1): 0.5,
    }
    assert any("assumes the latest month" in w for w in result.warnings)


def test_cohort_retention_stops_before_a_partial_month():
    frame = pd.DataFrame(
        {
            "signup_month": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "is_churned": [True, False],
            "churn_month": pd.to_datetime(["2024-02-01", None]),
            "as_of_date": pd.to_datetime(["2024-03-15", "2024-03-15"]),  # March not complete
        }
    )
    rows = churn_rate(frame, segment_by=[]).tables["cohort_retention"]
    assert [(r["months_since_signup"], r["retained_share"]) for r in rows] == [(0, 1.0), (1, 0.5)]


def test_small_segments_warn(two_segments):
    result = churn_rate(two_segments, min_segment_size=150)
    assert any("fewer than 150 customers" in w for w in result.warnings)


def test_filters_are_applied_and_recorded(two_segments):
    result = churn_rate(two_segments, filters={"account_type": "Basic"})
    assert result.computed_on.rows == 100
    assert result.computed_on.filters == {"account_type": "Basic"}
    assert result.tables["overall"][0]["churn_rate"] == pytest.approx(0.3)
    assert result.tests == []  # one account type left: nothing to compare


def test_errors_say_what_to_change(two_segments):
    with pytest.raises(AnalysisError, match=r"available columns: customer_id, account_type, is_churned"):
        churn_rate(two_segments, churn_column="churned")
    with pytest.raises(AnalysisError, match=r"'region'.*available columns"):
        churn_rate(two_segments, segment_by=["region"])
    with pytest.raises(AnalysisError, match=r"has no rows"):
        churn_rate(two_segments.iloc[0:0])
    with pytest.raises(AnalysisError, match=r"after applying filters"):
        churn_rate(two_segments, filters={"account_type": "Gold"})
    with pytest.raises(AnalysisError, match=r"Observed values"):
        churn_rate(two_segments.assign(flag=["y", "n"] * 100), churn_column="flag", positive_label="Yes")
    with pytest.raises(AnalysisError, match=r"did you mean 'is_churned'"):
        churn_rate(two_segments, churn_column="Is_Churned")
