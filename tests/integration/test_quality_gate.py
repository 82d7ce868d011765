"""The raw-data quality gate on real PostgreSQL and real Dagster runs.

* The synthetic generator passes every expectation (errors and warnings) at several
  sizes, after `append_day` too, and at many window positions of its history.
* A plainly wrong batch (KB sent as MB, half a day lost) fails the blocking check in a
  real run: no dbt model runs, no ops.data_builds row, no analysis; the report and
  `telcopulse refresh` name table, column and expectation. Also in the `refresh_marts`
  job, which does not contain the raw asset. Once the data is fixed the gate opens.
* A staged batch (a temp table, as an import holds it) is judged the same way.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.quality.evaluate import evaluate_batch, evaluate_table, import_batch_gate, today_utc
from orchestration.refresh import refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from quality import QualityWindow, run_suite, suite_for
from warehouse import quality_profiles
from warehouse.db import connect, temporary_database
from warehouse.generator import append_day, generate
from warehouse.migrate import migrate
from warehouse.raw_schema import TABLES

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")
TABLE_NAMES = ("customers", "network_events", "revenue")
TODAY = today_utc()
END = TODAY - dt.timedelta(days=1)  # the newest complete day
GATE_CUSTOMERS = 400


def _all_failures(url: str, as_of: dt.date = TODAY) -> list[str]:
    with connect(url) as conn:
        return [line for t in TABLE_NAMES for line in evaluate_table(conn, t, as_of=as_of).failure_lines()]


@pytest.fixture(scope="module")
def scratch_url(base_database_url: str) -> Iterator[str]:
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        yield url


@pytest.mark.parametrize("customers", [100, 2_500])
def test_generated_data_passes_every_expectation_also_after_append_day(
    scratch_url: str, customers: int
) -> None:
    generate(
        scratch_url, customers=customers, seed=customers, end_date=END - dt.timedelta(days=1), progress=False
    )
    assert _all_failures(scratch_url) == []
    append_day(scratch_url, day=END, seed=customers)  # the newest day now comes from append_day
    assert _all_failures(scratch_url) == []
    append_day(scratch_url, day=TODAY, seed=customers)  # today, still running: not judged for volume
    assert _all_failures(scratch_url) == []


def test_generated_history_passes_at_sampled_window_positions(scratch_url: str) -> None:
    """Slide the window over 13 months (month ends, 1sts, growth): never a false alarm.

    Seven positions (a suite run costs ~2 s of Great Expectations): the newest day, the day
    before, one and two days either side of a month earlier (a month boundary lies within
    any 31 days), and three spread across the year.
    """
    generate(scratch_url, customers=1_000, seed=3, end_date=END, progress=False)
    failures = []
    with connect(scratch_url) as conn:
        for table in TABLE_NAMES:
            suite = suite_for(table)
            daily = quality_profiles.daily_profile(
                conn,
                table,
                start=END - dt.timedelta(days=390),
                end=END,
                value_sets=suite.value_sets,
                ranges=suite.profile_ranges,
            )
            for offset in (0, 1, 30, 31, 95, 200, 335):
                newest = END - dt.timedelta(days=offset)
                window = QualityWindow.trailing(newest, as_of=newest + dt.timedelta(days=1))
                recent, history = window.split(daily)
                summary = pd.DataFrame({"newest_ts": [pd.Timestamp(newest)], "future_rows": [0]})
                result = run_suite(table, recent, history, window, summary=summary)
                failures += [f"{newest}: {line}" for line in result.failure_lines()]
    assert failures == []


# --- the gate in real Dagster runs ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def gate_url(base_database_url: str) -> Iterator[str]:
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        generate(url, customers=GATE_CUSTOMERS, seed=5, end_date=END, progress=False)
        yield url


@pytest.fixture(scope="module")
def gate_defs(gate_url: str, redis_url: str) -> dg.Definitions:
    return build_definitions(WarehouseResource(database_url=gate_url), RedisResource(redis_url=redis_url))


def _run_config(tmp_path: Path) -> dict:
    quality = {"project_dir": str(tmp_path / "gx"), "site_dir": str(tmp_path / "gx_docs")}
    return {"resources": {"quality": {"config": quality}}}


def _counts(url: str) -> tuple[int, int]:
    with connect(url) as conn:
        builds = conn.execute("SELECT count(*) FROM ops.data_builds").fetchone()[0]
        results = conn.execute("SELECT count(*) FROM ops.quality_results").fetchone()[0]
    return builds, results


def _data_day(url: str, factor: float) -> None:
    with connect(url) as conn:
        conn.execute(
            "UPDATE raw.network_events SET data_usage_mb = data_usage_mb * %s"
            " WHERE event_type = 'data' AND event_timestamp >= %s AND event_timestamp < %s",
            (factor, END, TODAY),
        )


def test_kilobytes_sent_as_megabytes_block_the_marts(gate_url: str, gate_defs, tmp_path: Path) -> None:
    _data_day(gate_url, 1000)
    try:
        report = refresh_all(gate_defs, run_config=_run_config(tmp_path))
    finally:
        _data_day(gate_url, 0.001)
    assert not report.ok
    assert "raw/network_events:quality_gate" in report.checks_failed
    assert not [a for a in report.materialized if a.startswith(("staging/", "marts/", "analyses/"))]
    lines = report.details("raw/network_events:quality_gate")
    line = next(x for x in lines if "network_events.data_usage_mb: daily mean" in x)
    assert line.startswith("ERROR [daily_mean · expect_column_values_to_be_between]"), line
    assert "KB sent as MB" in line and END.isoformat() in line
    assert "raw/customers:quality_gate" in report.checks_passed + report.checks_warned
    builds, results = _counts(gate_url)
    assert builds == 0  # the data version (and so every cache) stays as it was
    with connect(gate_url) as conn:
        rows = conn.execute(
            "SELECT severity, success, observed->>'day', details->>'gx_expectation', run_id"
            " FROM ops.quality_results WHERE table_name = 'network_events' AND expectation = 'daily_mean'"
            " AND column_name = 'data_usage_mb'"
        ).fetchall()
    assert rows == [("error", False, END.isoformat(), "expect_column_values_to_be_between", report.run_id)]
    assert results >= 40
    assert (tmp_path / "gx_docs" / "index.html").is_file()  # GX Data Docs of the run
    assert "network_events_table_daily" in (tmp_path / "gx_docs" / "index.html").read_text()


@pytest.fixture()
def half_day_lost(gate_url: str) -> Iterator[None]:
    """Events of the last complete day from noon on are gone (~70 % of the day's volume)."""
    with connect(gate_url) as conn:
        conn.execute(
            "CREATE TABLE public.lost_events AS SELECT * FROM raw.network_events"
            " WHERE event_timestamp >= %s AND event_timestamp < %s",
            (dt.datetime.combine(END, dt.time(12)), TODAY),
        )
        conn.execute(
            "DELETE FROM raw.network_events e USING public.lost_events l WHERE e.event_id = l.event_id"
        )
    try:
        yield
    finally:
        with connect(gate_url) as conn:
            conn.execute("INSERT INTO raw.network_events SELECT * FROM public.lost_events")
            conn.execute("DROP TABLE public.lost_events")


def test_refresh_marts_job_is_blocked_without_the_raw_asset(
    gate_url: str, gate_defs, half_day_lost: None, tmp_path: Path
) -> None:
    job = gate_defs.resolve_job_def("refresh_marts")
    assert "raw/network_events" not in {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    builds_before, _ = _counts(gate_url)
    result = job.execute_in_process(raise_on_error=False, run_config=_run_config(tmp_path))
    assert not result.success
    evaluation = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["raw", "network_events"])
    )
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "[daily_volume · expect_column_pair_values_a_to_be_greater_than_b]" in (
        evaluation.description or ""
    )
    assert not [e for e in result.all_events if e.is_step_materialization]  # dbt never ran
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "raw__network_events_quality_gate" in started
    assert not [step for step in started if "dbt" in (step or "") or "analyses" in (step or "")], started
    assert _counts(gate_url)[0] == builds_before


def test_refresh_command_exits_nonzero_naming_table_column_and_expectation(
    gate_url: str, half_day_lost: None, tmp_path: Path, redis_url: str
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": gate_url,
        "REDIS_URL": redis_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "TELCOPULSE_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run([TELCOPULSE, "refresh"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "CHECK FAILED: raw/network_events:quality_gate" in result.stdout
    assert (
        "ERROR [daily_volume · expect_column_pair_values_a_to_be_greater_than_b] network_events:"
        in result.stdout
    )
    assert "no mart was rebuilt" in result.stdout


def test_the_gate_opens_once_the_data_is_fixed(gate_url: str, gate_defs, tmp_path: Path) -> None:
    report = refresh_all(gate_defs, run_config=_run_config(tmp_path))
    assert report.ok, (report.failed_steps, report.checks_failed, report.check_descriptions)
    assert {f"raw/{t}:quality_gate" for t in TABLE_NAMES} <= set(report.checks_passed)
    assert "marts/fct_network_quality_daily" in report.materialized
    assert _counts(gate_url)[0] == 1


# --- batch scope ----------------------------------------------------------------------------------------


def test_a_staged_batch_is_judged_against_the_warehouse_history(gate_url: str) -> None:
    with connect(gate_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE import_stage AS SELECT * FROM raw.network_events"
            " WHERE event_timestamp >= %s AND event_timestamp < %s",
            (END, TODAY),
        )
        clean = evaluate_batch(conn, "network_events", "import_stage")
        assert clean is not None and clean.scope == "batch"
        assert clean.window["recent_start"] == clean.window["recent_end"] == END.isoformat()
        assert clean.errors == [], clean.failure_lines()
        conn.execute("UPDATE import_stage SET data_usage_mb = data_usage_mb * 1000 WHERE event_type = 'data'")
        conn.execute("INSERT INTO import_stage SELECT * FROM import_stage LIMIT 3")  # repeated keys
        bad = evaluate_batch(conn, "network_events", "import_stage")
        reasons = import_batch_gate(conn, "import_stage", TABLES["network_events"])
        conn.rollback()
    assert bad is not None
    assert {(o.name, o.column) for o in bad.errors} >= {
        ("daily_mean", "data_usage_mb"),
        ("unique_key", "event_id"),
    }
    assert any("network_events.data_usage_mb" in r and "KB sent as MB" in r for r in reasons)


def test_a_batch_without_some_columns_is_profiled_as_it_would_load(gate_url: str) -> None:
    """No key column (derived on load) and no payment_method (stored as NULL): a null flood."""
    with connect(gate_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE import_stage AS SELECT customer_id, transaction_date, amount, service_type"
            " FROM raw.revenue WHERE transaction_date >= %s AND transaction_date < %s",
            (END - dt.timedelta(days=40), TODAY),  # a billing run (the 1st, a month end) included
        )
        result = evaluate_batch(conn, "revenue", "import_stage")
        conn.rollback()
    assert result is not None
    assert {(o.name, o.column) for o in result.errors} == {("null_share", "payment_method")}
    assert next(o for o in result.outcomes if o.name == "unique_key").success
