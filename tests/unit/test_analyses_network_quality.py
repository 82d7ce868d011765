"""network_quality: re-weighted aggregates, event-level input, and the quality -> churn model."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyses import AnalysisError, network_quality


def dumps(result) -> str:
    return json.dumps(result.model_dump(), allow_nan=False)


@pytest.fixture()
def groups() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "location": ["North", "North", "North", "South", "South", "South"],
            "event_type": ["call", "call", "data", "call", "data", "data"],
            "event_hour": [8, 9, 8, 8, 8, 9],
            "events": [100, 300, 200, 400, 150, 50],
            "poor_events": [30, 30, 80, 20, 15, 5],
            "avg_quality": [3.0, 3.4, 2.8, 3.8, 3.5, 3.1],
            "p10_quality": [1.5, 2.0, 1.2, 2.6, 2.2, 1.9],
        }
    )


def test_segments_are_event_weighted(groups):
    result = network_quality(groups)
    rows = {(r["location"], r["event_type"]): r for r in result.tables["by_segment"]}
    north_call = rows[("North", "call")]
    assert north_call["events"] == 400 and north_call["poor_events"] == 60
    assert north_call["poor_share"] == pytest.approx(60 / 400)
    assert north_call["avg_quality"] == pytest.approx((3.0 * 100 + 3.4 * 300) / 400, abs=1e-4)
    assert north_call["min_group_p10"] == pytest.approx(1.5)
    assert result.tables["by_segment"][0]["poor_share"] == pytest.approx(0.4)  # North data, worst first

    hours = {r["event_hour"]: r for r in result.tables["by_hour"]}
    assert hours[8]["events"] == 850 and hours[8]["poor_events"] == 145
    assert hours[9]["poor_share"] == pytest.approx(35 / 350)
    dumps(result)


def test_worst_cells_respect_the_minimum_volume(groups):
    result = network_quality(groups, min_cell_events=120)
    cells = result.tables["worst_cells"]
    assert all(c["events"] >= 120 for c in cells)
    assert (cells[0]["location"], cells[0]["event_type"], cells[0]["event_hour"]) == ("North", "data", 8)
    assert "North / data / 8:00" in result.summary


def test_chi_square_across_locations_matches_scipy(groups):
    test = network_quality(groups).tests[0]
    table = np.array([[140, 600 - 140], [40, 600 - 40]])
    expected = stats.chi2_contingency(table, correction=False)
    assert test.name == "chi-square: poor-quality share vs location"
    assert test.p_value == pytest.approx(expected.pvalue)
    assert test.effect_size == pytest.approx(math.sqrt(expected.statistic / 1200))


def test_mart_column_names_are_accepted(groups):
    mart = groups.rename(
        columns={
            "events": "event_count",
            "poor_events": "poor_quality_events",
            "avg_quality": "avg_quality_score",
            "p10_quality": "p10_quality_score",
        }
    ).assign(event_date=pd.Timestamp("2024-05-01"))
    result = network_quality(mart, segment_by=["location"])
    assert {r["location"]: r["poor_share"] for r in result.tables["by_segment"]} == {
        "North": pytest.approx(140 / 600, abs=1e-4),
        "South": pytest.approx(40 / 600, abs=1e-4),
    }
    assert result.computed_on.time_range == ("2024-05-01", "2024-05-01")


def test_event_level_rows_are_aggregated_exactly():
    rng = np.random.default_rng(5)
    scores = rng.uniform(1, 5, 2000).round(2)
    events = pd.DataFrame(
        {
            "location": np.where(np.arange(2000) % 2 == 0, "North", "South"),
            "event_type": "call",
            "event_timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(2000) * 60, unit="s"),
            "network_quality_score": scores,
        }
    )
    result = network_quality(events, poor_threshold=2.0, segment_by=["location"])
    north = next(r for r in result.tables["by_segment"] if r["location"] == "North")
    north_scores = scores[::2]
    assert north["poor_events"] == int((north_scores < 2.0).sum())
    assert north["avg_quality"] == pytest.approx(north_scores.mean(), abs=1e-4)
    assert north["p10_quality"] == pytest.approx(np.quantile(north_scores, 0.1), abs=1e-4)
    assert sum(r["events"] for r in result.tables["by_hour"]) == 2000
    assert result.computed_on.time_range == ("2024-01-01", "2024-01-02")


def simulated_customers(n: int = 5000, slope: float = -0.7, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    quality = rng.normal(3.5, 0.6, n)
    account = rng.choice(["Basic", "Premium", "Business"], n)
    tenure_days = rng.integers(30, 1500, n)
    log_odds = -1.0 + slope * (quality - 3.5) + 0.5 * (account == "Basic") - 0.2 * tenure_days / 365.25
    churned = rng.random(n) < 1 / (1 + np.exp(-log_odds))
    return pd.DataFrame(
        {
            "customer_id": range(n),
            "account_type": account,
            "tenure_days": tenure_days,
            "avg_quality_score": quality,
            "poor_quality_share": np.clip(0.6 - 0.15 * quality + rng.normal(0, 0.05, n), 0, 1),
            "is_churned": churned,
        }
    )


def test_churn_model_recovers_the_true_odds_ratio(groups):
    customers = simulated_customers()
    result = network_quality(groups, customers=customers)
    model = {r["term"]: r for r in result.tables["churn_model"]}
    quality = model["avg_quality_score (+1 point)"]
    assert quality["odds_ratio"] == pytest.approx(math.exp(-0.7), abs=0.15)
    assert quality["ci_low"] < quality["odds_ratio"] < quality["ci_high"]
    assert model["tenure (+1 year)"]["odds_ratio"] == pytest.approx(math.exp(-0.2), abs=0.1)
    assert any(term.startswith("account_type = ") for term in model)
    assert "x the odds of churn" in result.summary

    correlations = {r["feature"]: r for r in result.tables["quality_vs_churn"]}
    expected = stats.pointbiserialr(customers["is_churned"].astype(int), customers["avg_quality_score"])
    assert correlations["avg_quality_score"]["r"] == pytest.approx(expected.statistic, abs=1e-4)
    assert "poor_quality_share" in correlations
    bands = result.tables["churn_by_quality_band"]
    assert len(bands) == 4 and sum(b["customers"] for b in bands) == 5000
    assert bands[0]["churn_rate"] > bands[-1]["churn_rate"]  # low quality churns more
    dumps(result)


def test_perfect_separation_skips_the_model_with_a_warning(groups):
    customers = pd.DataFrame(
        {
            "avg_quality_score": np.linspace(1, 5, 200),
            "tenure_days": np.arange(200) * 3,
            "is_churned": np.linspace(1, 5, 200) < 3,
        }
    )
    result = network_quality(groups, customers=customers)
    assert "churn_model" not in result.tables
    assert any("separation" in w or "converge" in w for w in result.warnings)
    dumps(result)


def test_errors_say_what_to_change(groups):
    with pytest.raises(
        AnalysisError, match=r"event_count.*network_quality_score.*available columns: location"
    ):
        network_quality(groups.drop(columns="events"))
    with pytest.raises(AnalysisError, match=r"'region'.*available columns"):
        network_quality(groups, segment_by=["region"])
    with pytest.raises(AnalysisError, match=r"has no rows"):
        network_quality(groups.iloc[0:0])
    with pytest.raises(AnalysisError, match=r"'avg_quality_score'.*available columns: is_churned, quality"):
        network_quality(groups, customers=pd.DataFrame({"is_churned": [True], "quality": [3.0]}))
    with pytest.raises(AnalysisError, match=r"'events' in 'groups' is not numeric"):
        network_quality(groups.assign(events="many"))


def test_any_column_can_be_a_segment_but_not_a_measure(groups):
    frame = groups.assign(region=["R1", "R1", "R2", "R2", "R2", "R1"])
    rows = {r["region"]: r for r in network_quality(frame, segment_by=["region"]).tables["by_segment"]}
    assert rows["R1"]["events"] == 100 + 300 + 50
    assert rows["R2"]["poor_share"] == pytest.approx((80 + 20 + 15) / 750, abs=1e-4)
    with pytest.raises(AnalysisError, match=r"is a measure, not a segment"):
        network_quality(frame, segment_by=["poor_events"])
