"""arpu: the denominator rule, growth, mixes, and the churned vs retained tests against scipy."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses import AnalysisError, arpu


def dumps(result) -> str:
    return json.dumps(result.model_dump(), allow_nan=False)


@pytest.fixture()
def monthly() -> pd.DataFrame:
    """Two months x two account types x three services; active_customers repeats on every service row."""
    rows = []
    revenue = {
        ("2024-01-01", "Basic"): (100.0, 50.0, 50.0),
        ("2024-01-01", "Premium"): (300.0, 100.0, 100.0),
        ("2024-02-01", "Basic"): (120.0, 60.0, 40.0),
        ("2024-02-01", "Premium"): (250.0, 150.0, 100.0),
        ("2024-03-01", "Basic"): (10.0, 0.0, 0.0),
        ("2024-03-01", "Premium"): (10.0, 0.0, 0.0),
    }
    active = {"Basic": 10, "Premium": 5}
    for (month, account), amounts in revenue.items():
        for service, amount in zip(("data", "voice", "sms"), amounts, strict=True):
            rows.append(
                {
                    "month": month,
                    "account_type": account,
                    "service_type": service,
                    "revenue": amount,
                    "active_customers": active[account],
                    "arpu": amount / active[account],
                    "is_complete_month": month != "2024-03-01",
                }
            )
    return pd.DataFrame(rows)


def test_arpu_divides_summed_revenue_by_active_customers_once(monthly):
    result = arpu(monthly)
    total = {(r["month"], r["account_type"]): r for r in result.tables["total_by_month"]}
    # Basic January: (100 + 50 + 50) / 10, not / 30 (the sum of active over the three service rows)
    assert total[("2024-01-01", "Basic")]["arpu"] == pytest.approx(20.0)
    assert total[("2024-01-01", "Basic")]["active_customers"] == 10
    assert total[("2024-01-01", "Premium")]["arpu"] == pytest.approx(100.0)
    assert total[("2024-02-01", "Basic")]["arpu"] == pytest.approx(22.0)
    # month-over-month growth of total ARPU, None for the first month
    assert total[("2024-01-01", "Basic")]["mom_growth"] is None
    assert total[("2024-02-01", "Basic")]["mom_growth"] == pytest.approx(0.1)
    assert total[("2024-02-01", "Premium")]["mom_growth"] == pytest.approx(0.0)
    # the incomplete March is left out by default
    assert all(r["month"] != "2024-03-01" for r in result.tables["total_by_month"])
    assert result.computed_on.time_range == ("2024-01-01", "2024-02-01")
    dumps(result)


def test_service_rows_and_mix(monthly):
    result = arpu(monthly)
    by_service = {
        (r["month"], r["account_type"], r["service_type"]): r for r in result.tables["by_month_segment"]
    }
    assert by_service[("2024-01-01", "Basic", "data")]["arpu"] == pytest.approx(10.0)
    assert by_service[("2024-01-01", "Basic", "data")]["active_customers"] == 10
    mix = {
        (r["account_type"], r["service_type"]): r["share_of_revenue"] for r in result.tables["service_mix"]
    }
    assert mix[("Basic", "data")] == pytest.approx(220 / 420, abs=1e-4)
    assert sum(v for (a, _), v in mix.items() if a == "Premium") == pytest.approx(1.0, abs=1e-3)
    segments = {r["account_type"]: r for r in result.tables["by_segment"]}
    assert segments["Basic"]["arpu"] == pytest.approx(420 / 20)  # revenue / customer-months
    assert segments["Basic"]["customer_months"] == 20


def test_without_segments_active_customers_add_up_across_account_types(monthly):
    result = arpu(monthly, segment_by=[])
    january = next(r for r in result.tables["total_by_month"] if r["month"] == "2024-01-01")
    assert january["active_customers"] == 15
    assert january["arpu"] == pytest.approx(700 / 15, abs=0.005)  # money is rounded to cents


def test_incomplete_months_can_be_included(monthly):
    result = arpu(monthly, complete_months_only=False)
    assert any(r["month"] == "2024-03-01" for r in result.tables["total_by_month"])
    assert any("incomplete" in w for w in result.warnings)


def test_decimals_from_the_database_are_numbers(monthly):
    as_decimal = monthly.assign(revenue=[Decimal(str(v)) for v in monthly["revenue"]])
    result = arpu(as_decimal)
    assert result.tables["total_by_month"][0]["arpu"] == pytest.approx(20.0)


def test_churned_vs_retained_is_welchs_t_test():
    rng = np.random.default_rng(3)
    churned = rng.normal(18, 6, 80)
    retained = rng.normal(22, 4, 300)
    customers = pd.DataFrame(
        {
            "is_churned": [True] * 80 + [False] * 300,
            "avg_monthly_revenue": np.concatenate([churned, retained]),
        }
    )
    monthly = pd.DataFrame({"month": ["2024-01-01"], "revenue": [100.0], "active_customers": [10]})
    result = arpu(monthly, customers=customers)

    welch = stats.ttest_ind(churned, retained, equal_var=False)
    test = result.tests[0]
    assert test.name.startswith("Welch t-test")
    assert test.statistic == pytest.approx(welch.statistic)
    assert test.p_value == pytest.approx(welch.pvalue)
    pooled = math.sqrt((79 * churned.var(ddof=1) + 299 * retained.var(ddof=1)) / 378)
    assert test.effect_size == pytest.approx((churned.mean() - retained.mean()) / pooled)
    groups = {r["group"]: r for r in result.tables["churned_vs_retained"]}
    assert groups["churned"]["customers"] == 80
    assert groups["retained"]["mean"] == pytest.approx(retained.mean(), abs=0.01)
    assert groups["churned"]["median"] == pytest.approx(np.median(churned), abs=0.01)
    assert "Mann-Whitney" in result.tests[1].name
    dumps(result)


def test_payment_mix_shares():
    payments = pd.DataFrame(
        {
            "payment_method": ["card", "cash", "card", "transfer"],
            "account_type": ["Basic", "Basic", "Premium", "Premium"],
            "revenue": [75.0, 25.0, 40.0, 60.0],
            "transactions": [3, 1, 2, 2],
        }
    )
    monthly = pd.DataFrame(
        {
            "month": ["2024-01-01"] * 2,
            "account_type": ["Basic", "Premium"],
            "revenue": [1.0, 1.0],
            "active_customers": [1, 1],
        }
    )
    rows = arpu(monthly, payments=payments).tables["payment_mix"]
    got = {(r["account_type"], r["payment_method"]): r for r in rows}
    assert got[("Basic", "card")]["share_of_revenue"] == pytest.approx(0.75)
    assert got[("Premium", "transfer")]["share_of_transactions"] == pytest.approx(0.5)
    assert got[("Basic", "card")]["avg_transaction"] == pytest.approx(25.0)


def test_errors_say_what_to_change(monthly):
    with pytest.raises(AnalysisError, match=r"active_customers.*available columns: month, account_type"):
        arpu(monthly.drop(columns="active_customers"))
    with pytest.raises(AnalysisError, match=r"'revenue' in 'monthly' is not numeric"):
        arpu(monthly.assign(revenue="lots"))
    with pytest.raises(AnalysisError, match=r"service_type are always broken out"):
        arpu(monthly, segment_by=["service_type"])
    with pytest.raises(AnalysisError, match=r"no complete month"):
        arpu(monthly.assign(is_complete_month=False))
    with pytest.raises(AnalysisError, match=r"has no rows"):
        arpu(monthly.iloc[0:0])
    customers = pd.DataFrame({"is_churned": [True, False], "lifetime_revenue": [1.0, 2.0]})
    with pytest.raises(
        AnalysisError, match=r"'avg_monthly_revenue'.*available columns: is_churned, lifetime_revenue"
    ):
        arpu(monthly, customers=customers)
