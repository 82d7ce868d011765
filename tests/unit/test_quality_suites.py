"""Quality suites on hand-made daily profiles: every family passes on a clean profile and
fails (with the right severity and an explanation naming table, column and day) on a
crafted bad one; thin or missing history passes with a note; the package stays isolated."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quality import SUITES, QualityWindow, SuiteResult, run_suite
from warehouse.raw_schema import TABLES

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 11, 1)
NEWEST = dt.date(2026, 10, 31)
WINDOW = QualityWindow.trailing(NEWEST, as_of=AS_OF)


def _days(count: int = 35) -> list[dt.date]:
    return [NEWEST - dt.timedelta(days=i) for i in range(count - 1, -1, -1)]


def _metric(frame: pd.DataFrame, name: str, n: np.ndarray, mean: float, rng: np.random.Generator) -> None:
    noise = rng.normal(1.0, 0.08, len(frame))
    frame[f"{name}__n"] = n.astype(int)
    frame[f"{name}__mean"] = mean * noise
    frame[f"{name}__p50"] = 0.55 * mean * noise
    frame[f"{name}__p95"] = 3.0 * mean * noise


def _base(table: str, rows_per_day: float, days: int, seed: int) -> pd.DataFrame:
    """A clean profile: steady volume with a weekend dip (55 %), a little noise, no defects."""
    rng = np.random.default_rng(seed)
    day_list = _days(days)
    weekend = np.array([d.weekday() >= 5 for d in day_list])
    rows = rng.poisson(rows_per_day * np.where(weekend, 0.55, 1.0))
    frame = pd.DataFrame({"day": day_list, "rows": rows})
    suite = SUITES[table]
    for column in suite.nulls:
        frame[f"nulls__{column}"] = 0
    for column in suite.value_sets:
        frame[f"out_of_set__{column}"] = 0
        frame[f"out_of_set_sample__{column}"] = [[] for _ in day_list]
    for column in suite.ranges:
        frame[f"out_of_range__{column}"] = 0
    frame["content_duplicates"] = 0
    for count in suite.referential:
        frame[count] = 0
    return frame


def events_profile(rows_per_day: float = 20_000, days: int = 35, seed: int = 1) -> pd.DataFrame:
    frame = _base("network_events", rows_per_day, days, seed)
    rng = np.random.default_rng(seed + 1)
    rows = frame["rows"].to_numpy()
    _metric(frame, "data_usage_mb", rows * 0.35, 60.0, rng)
    _metric(frame, "duration_seconds", rows * 0.40, 210.0, rng)
    frame["network_quality_score__n"] = rows
    frame["network_quality_score__mean"] = rng.normal(3.7, 0.02, len(frame))
    frame["network_quality_score__p50"] = frame["network_quality_score__mean"]
    frame["network_quality_score__p95"] = 4.8
    return frame


def revenue_profile(days: int = 35, seed: int = 3) -> pd.DataFrame:
    """Bursty billing: subscriptions on the 1st, usage bills at month end, a trickle between."""
    frame = _base("revenue", 40, days, seed)
    rng = np.random.default_rng(seed + 1)
    first = np.array([d.day == 1 for d in frame["day"]])
    last = np.array([(d + dt.timedelta(days=1)).day == 1 for d in frame["day"]])
    subscriptions = np.where(first, 8_000, rng.poisson(15, len(frame)))
    usage = np.where(last, 24_000, rng.poisson(20, len(frame)))
    frame["rows"] = subscriptions + usage
    _metric(frame, "subscription_amount", subscriptions, 37.0, rng)
    _metric(frame, "usage_amount", usage, 4.5, rng)
    return frame


def customers_profile(days: int = 35, seed: int = 5) -> pd.DataFrame:
    return _base("customers", 150, days, seed)


def summary(newest: dt.datetime | None = None, future_rows: int = 0) -> pd.DataFrame:
    newest = newest or dt.datetime.combine(NEWEST, dt.time(23, 30))
    return pd.DataFrame(
        {
            "newest_ts": [pd.Timestamp(newest)],
            "future_rows": [future_rows],
            "future_newest_ts": [pd.Timestamp("2027-10-30") if future_rows else pd.NaT],
        }
    )


def run(table: str, frame: pd.DataFrame, *, summary_frame: pd.DataFrame | None = None) -> SuiteResult:
    recent, history = WINDOW.split(frame)
    return run_suite(
        table, recent, history, WINDOW, summary=summary(**{}) if summary_frame is None else summary_frame
    )


def failed(result: SuiteResult) -> dict[tuple[str, str | None], str]:
    return {(o.name, o.column): o.severity for o in result.failed}


def last_complete_day(frame: pd.DataFrame) -> pd.Series:
    return frame["day"] == NEWEST


# --- clean profiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "frame"),
    [
        ("network_events", events_profile()),
        ("network_events", events_profile(rows_per_day=45, seed=9)),  # a 100-customer warehouse
        ("revenue", revenue_profile()),
        ("customers", customers_profile()),
    ],
)
def test_clean_profiles_pass_every_expectation(table: str, frame: pd.DataFrame) -> None:
    result = run(table, frame)
    assert result.failed == [], result.failure_lines()
    assert result.passed
    names = {o.name for o in result.outcomes}
    assert {"daily_volume", "null_share", "value_set", "plausible_range", "content_duplicates"} <= names
    assert {"freshness", "no_future_dates"} <= names


def test_weekday_dip_and_day_to_day_noise_never_fail() -> None:
    # Eight independent noise draws (each a full suite run, ~2 s of Great Expectations);
    # the integration test slides the window over 13 months of generated data as well.
    for seed in range(8):
        frame = events_profile(rows_per_day=3_000, seed=seed)
        assert run("network_events", frame).failed == [], seed


# --- volume -----------------------------------------------------------------------------------------


def test_a_day_missing_half_its_rows_fails_volume_with_an_error() -> None:
    frame = events_profile()
    day = last_complete_day(frame)
    frame.loc[day, "rows"] = int(frame.loc[day, "rows"].iloc[0] * 0.3)  # a Saturday: against Saturdays
    result = run("network_events", frame)
    assert failed(result) == {("daily_volume", None): "error"}
    outcome = result.errors[0]
    assert outcome.table == "network_events" and outcome.column is None
    assert outcome.observed["day"] == "2026-10-31"
    assert "2026-10-31" in outcome.explanation and "rows" in outcome.explanation
    assert outcome.headline.startswith(
        "[daily_volume · expect_column_pair_values_a_to_be_greater_than_b] network_events:"
    )


def test_todays_partial_day_is_not_judged_for_volume() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), "rows"] = 100  # "today" half-loaded: not complete yet
    recent, history = WINDOW.split(frame)
    window = QualityWindow.trailing(NEWEST, as_of=NEWEST)
    result = run_suite("network_events", recent, history, window, summary=summary())
    assert ("daily_volume", None) not in failed(result)


def test_a_missing_day_counts_as_zero_rows() -> None:
    frame = events_profile()
    frame.loc[frame["day"] == NEWEST - dt.timedelta(days=2), "rows"] = 0
    assert ("daily_volume", None) in failed(run("network_events", frame))


# --- distribution ---------------------------------------------------------------------------------


def test_kilobytes_sent_as_megabytes_fail_the_distribution_with_a_unit_hint() -> None:
    frame = events_profile()
    day = last_complete_day(frame)
    for stat in ("mean", "p50", "p95"):
        frame.loc[day, f"data_usage_mb__{stat}"] *= 1000
    result = run("network_events", frame)
    assert failed(result) == {
        ("daily_mean", "data_usage_mb"): "error",
        ("daily_median", "data_usage_mb"): "error",
    }
    mean = next(o for o in result.errors if o.name == "daily_mean")
    assert mean.observed["day"] == "2026-10-31"
    assert mean.expected["min"] < 60 < mean.expected["max"] < 60_000
    assert "KB sent as MB" in mean.explanation
    assert mean.explanation.startswith("network_events.data_usage_mb: daily mean")


def test_minutes_sent_as_seconds_fail_the_call_duration() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), ["duration_seconds__mean", "duration_seconds__p50"]] /= 60
    result = run("network_events", frame)
    assert ("daily_mean", "duration_seconds") in failed(result)
    assert "minutes sent as seconds" in next(o for o in result.errors if o.name == "daily_mean").explanation


def test_cents_sent_as_currency_fail_revenue_and_billing_days_do_not() -> None:
    frame = revenue_profile()
    assert run("revenue", frame).failed == []  # the 1st and the month end are billing spikes, not errors
    frame.loc[frame["day"] >= NEWEST - dt.timedelta(days=3), "subscription_amount__mean"] *= 100
    frame.loc[frame["day"] >= NEWEST - dt.timedelta(days=3), "subscription_amount__p50"] *= 100
    result = run("revenue", frame)
    # ~15 signup charges a day between billing runs: judged as the window's pooled mean
    assert failed(result) == {("daily_mean", "amount"): "error"}
    assert result.errors[0].expected["mode"] == "window"
    assert "cents" in result.errors[0].explanation and "subscription charges" in result.errors[0].explanation


def test_thin_days_are_pooled_over_the_window() -> None:
    frame = events_profile(rows_per_day=45, seed=4)  # ~16 data sessions a day: too thin for daily stats
    result = run("network_events", frame)
    mean = next(o for o in result.outcomes if o.name == "daily_mean" and o.column == "data_usage_mb")
    assert mean.success and mean.expected["mode"] == "window" and "pooled" not in (mean.note or "x")
    frame.loc[last_complete_day(frame), "data_usage_mb__mean"] *= 1000
    result = run("network_events", frame)
    assert ("daily_mean", "data_usage_mb") in failed(result)


def test_a_network_quality_shift_only_warns() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), ["network_quality_score__mean", "network_quality_score__p50"]] = 2.1
    result = run("network_events", frame)
    assert failed(result) == {
        ("daily_mean", "network_quality_score"): "warn",
        ("daily_median", "network_quality_score"): "warn",
    }
    assert result.passed  # warnings never block


# --- nulls, value sets, ranges, duplicates, referential integrity -------------------------------------


def test_a_null_flood_fails_and_a_few_nulls_do_not() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), "nulls__data_usage_mb"] = 3  # below the flood minimum
    assert run("network_events", frame).failed == []
    frame.loc[last_complete_day(frame), "nulls__data_usage_mb"] = (
        frame.loc[last_complete_day(frame), "rows"] * 4 // 10
    )
    result = run("network_events", frame)
    assert failed(result) == {("null_share", "data_usage_mb"): "error"}
    assert "40.0 % null on 2026-10-31" in result.errors[0].explanation
    assert result.errors[0].expected["max_share"] == pytest.approx(0.01)


def test_routine_nulls_raise_the_limit() -> None:
    frame = customers_profile()
    frame["nulls__location"] = (frame["rows"] * 0.2).astype(int)  # 20 % every day: the source's normal
    assert ("null_share", "location") not in failed(run("customers", frame))
    frame.loc[last_complete_day(frame), "nulls__location"] = frame.loc[last_complete_day(frame), "rows"]
    assert failed(run("customers", frame)) == {("null_share", "location"): "error"}


def test_values_outside_the_set_fail_and_are_quoted() -> None:
    frame = revenue_profile()
    day = last_complete_day(frame)
    frame.loc[day, "out_of_set__service_type"] = 120
    frame.loc[day, "out_of_set_sample__service_type"] = pd.Series([["Voice", "DATA"]], index=frame.index[day])
    result = run("revenue", frame)
    assert failed(result) == {("value_set", "service_type"): "error"}
    assert "'Voice'" in result.errors[0].explanation and "subscription" in result.errors[0].explanation


def test_implausible_values_fail_the_range() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), "out_of_range__duration_seconds"] = 500
    result = run("network_events", frame)
    assert failed(result) == {("plausible_range", "duration_seconds"): "error"}
    assert "86,400 s" in result.errors[0].explanation


def test_a_duplicate_flood_fails() -> None:
    frame = events_profile()
    frame.loc[last_complete_day(frame), "content_duplicates"] = (
        frame.loc[last_complete_day(frame), "rows"] // 20
    )
    result = run("network_events", frame)
    assert failed(result) == {("content_duplicates", None): "error"}
    assert "loaded twice" in result.errors[0].explanation


def test_repeated_keys_in_a_batch_fail() -> None:
    frame = events_profile()
    frame["key_duplicates"] = 0
    frame.loc[last_complete_day(frame), "key_duplicates"] = 7
    recent, history = WINDOW.split(frame)
    result = run_suite("network_events", recent, history, WINDOW, scope="batch")
    assert failed(result) == {("unique_key", "event_id"): "error"}
    assert not any(o.name in {"daily_volume", "freshness"} for o in result.outcomes)  # table properties


@pytest.mark.parametrize(
    ("count", "column"),
    [("orphans", "customer_id"), ("before_signup", "event_timestamp"), ("after_churn", "event_timestamp")],
)
def test_orphan_and_early_events_fail(count: str, column: str) -> None:
    frame = events_profile()
    frame.loc[frame["day"] == NEWEST - dt.timedelta(days=1), count] = 2
    result = run("network_events", frame)
    assert failed(result) == {(count, column): "error"}
    assert "2026-10-30" in result.errors[0].explanation


def test_churn_before_signup_fails_on_customers() -> None:
    frame = customers_profile()
    frame.loc[last_complete_day(frame), "churn_before_signup"] = 1
    assert failed(run("customers", frame)) == {("churn_before_signup", "churn_date"): "error"}


# --- freshness and dates ----------------------------------------------------------------------------


def test_stale_data_only_warns() -> None:
    stale = summary(newest=dt.datetime(2026, 10, 20, 8, 0))
    recent, history = WINDOW.split(events_profile())
    window = QualityWindow.trailing(NEWEST, as_of=dt.date(2026, 11, 9))
    result = run_suite("network_events", recent, history, window, summary=stale)
    assert failed(result) == {("freshness", "event_timestamp"): "warn"}
    assert result.passed
    assert "20 days before 2026-11-09" in result.warnings[0].explanation


def test_future_dates_fail() -> None:
    result = run("network_events", events_profile(), summary_frame=summary(future_rows=12))
    assert failed(result) == {("no_future_dates", "event_timestamp"): "error"}
    assert "2027-10-30" in result.errors[0].explanation


# --- no history ---------------------------------------------------------------------------------------


def test_without_trailing_history_relative_checks_pass_with_a_note() -> None:
    frame = events_profile(days=7)  # a first load: the recent days only
    frame.loc[last_complete_day(frame), "rows"] = 10
    result = run("network_events", frame)
    assert result.failed == []
    volume = next(o for o in result.outcomes if o.name == "daily_volume")
    assert "no trailing history" in (volume.note or "")
    mean = next(o for o in result.outcomes if o.name == "daily_mean" and o.column == "data_usage_mb")
    assert mean.success and "not judged" in (mean.note or "")


# --- results, isolation --------------------------------------------------------------------------------


def test_outcomes_are_plain_json_safe_dataclasses() -> None:
    import json

    frame = events_profile()
    frame.loc[last_complete_day(frame), "data_usage_mb__mean"] *= 1000
    result = run("network_events", frame)
    payload = json.dumps(result.as_dict(), allow_nan=False)
    assert "daily_mean" in payload
    outcome = result.errors[0]
    assert {"name", "table", "column", "severity", "success", "observed", "expected", "explanation"} <= set(
        outcome.as_dict()
    )
    assert "| error | network_events.data_usage_mb |" in result.failures_markdown()


def test_value_sets_match_the_raw_schema() -> None:
    for table, suite in SUITES.items():
        for column, allowed in suite.value_sets.items():
            assert set(allowed) == set(TABLES[table].column(column).choices), (table, column)


def test_package_imports_nothing_from_the_platform_nor_great_expectations_at_import() -> None:
    code = (
        "import sys, quality, quality.suites, quality.rules, quality.windows, quality.results\n"
        "banned = {'dagster', 'mcp', 'mcp_server', 'orchestration', 'warehouse', 'great_expectations'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & banned)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    banned = {"dagster", "mcp", "mcp_server", "orchestration", "warehouse", "analyses"}
    for path in (ROOT / "quality").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            assert not {n.split(".")[0] for n in names} & banned, (path.name, names)
