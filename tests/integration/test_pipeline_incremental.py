"""Second and later refreshes: one new day is processed incrementally, the data version
moves, and `telcopulse refresh` reports success or failure through its exit code.

Runs after test_pipeline.py and test_marts.py on the same warehouse (it adds a day)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.definitions import build_definitions
from orchestration.refresh import refresh_all
from orchestration.resources import WarehouseResource
from tests.integration.conftest import PIPELINE_END_DATE, PipelineRun, raw_run_config
from warehouse.db import connect

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")


def _refresh_cli(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    return subprocess.run([TELCOPULSE, "refresh"], env=env, capture_output=True, text=True, timeout=600)


def test_next_day_refresh_is_incremental_and_bumps_the_data_version(pipeline: PipelineRun) -> None:
    new_day = PIPELINE_END_DATE + dt.timedelta(days=1)
    defs = build_definitions(WarehouseResource(database_url=pipeline.database_url))
    report = refresh_all(defs, run_config=raw_run_config(mode="append_day"))
    assert report.ok, (report.failed_steps, report.checks_failed)
    with connect(pipeline.database_url) as conn:
        builds = [r[0] for r in conn.execute("SELECT build_id FROM ops.data_builds ORDER BY finished_at")]
        mart_day = conn.execute(
            "SELECT sum(event_count) FROM marts.fct_network_quality_daily WHERE event_date = %s", (new_day,)
        ).fetchone()[0]
        raw_day = conn.execute(
            "SELECT count(*) FROM raw.network_events WHERE event_timestamp::date = %s", (new_day,)
        ).fetchone()[0]
        loads = [r[0] for r in conn.execute("SELECT kind FROM ops.raw_loads ORDER BY load_id")]
    assert builds == [pipeline.report.run_id, report.run_id]
    assert raw_day > 0
    assert mart_day == raw_day
    assert loads == ["synthetic", "append_day"]


def test_refresh_command_exits_zero_when_everything_passes(pipeline: PipelineRun, tmp_path: Path) -> None:
    result = _refresh_cli(pipeline.database_url, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert " 0 failed" in result.stdout


def test_replacing_raw_history_forces_a_full_refresh(pipeline: PipelineRun) -> None:
    """After `regenerate`, incremental re-processing of 3 days would leave stale history."""
    defs = build_definitions(WarehouseResource(database_url=pipeline.database_url))
    report = refresh_all(
        defs, run_config=raw_run_config(mode="regenerate", customers=300, seed=11, end_date="2026-09-30")
    )
    assert report.ok, (report.failed_steps, report.checks_failed)
    with connect(pipeline.database_url) as conn:
        diff = conn.execute(
            """SELECT count(*) FROM (
                   SELECT event_timestamp::date AS d, count(*) AS n FROM raw.network_events GROUP BY 1
               ) r FULL JOIN (
                   SELECT event_date AS d, sum(event_count) AS n
                   FROM marts.fct_network_quality_daily GROUP BY 1
               ) m USING (d) WHERE r.n IS DISTINCT FROM m.n"""
        ).fetchone()[0]
        customers = conn.execute("SELECT count(*) FROM marts.dim_customers").fetchone()[0]
    assert diff == 0
    assert customers == 300


def test_refresh_command_exits_nonzero_when_a_check_fails(pipeline: PipelineRun, tmp_path: Path) -> None:
    """An event dated before its customer signed up breaks `assert_no_event_before_signup`."""
    with connect(pipeline.database_url) as conn:
        event_id = conn.execute(
            "INSERT INTO raw.network_events (customer_id, event_timestamp, event_type, network_quality_score,"
            " duration_seconds, data_usage_mb)"
            " SELECT customer_id, created_at - interval '1 day', 'sms', 3.0, 0, 0 FROM raw.customers"
            " ORDER BY created_at DESC LIMIT 1 RETURNING event_id"
        ).fetchone()[0]
        conn.commit()
    try:
        result = _refresh_cli(pipeline.database_url, tmp_path)
    finally:
        with connect(pipeline.database_url) as conn:
            conn.execute("DELETE FROM raw.network_events WHERE event_id = %s", (event_id,))
    assert result.returncode == 1
    assert "CHECK FAILED" in result.stdout or "STEP FAILED" in result.stdout, result.stdout[-2000:]
