"""Pipeline outcomes as metrics: real Dagster runs recorded in ops.pipeline_runs, then scraped.

* Small real jobs run in-process on a real (ephemeral) Dagster instance; the run-status sensors
  are evaluated on those runs and their real events, and write the row a daemon would write:
  job, status, duration from the run's own start and end, failed ERROR checks (warnings not).
* `refresh_all` (an in-process run no sensor sees) records its run too, and a warehouse it
  cannot write to costs a warning, never the refresh.
* Known rows in ops.pipeline_runs / ops.quality_results / ops.raw_loads come out of a real
  `telcopulse serve --transport http`'s /metrics as exact values, with bounded labels.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math

import dagster as dg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcp_server.observability.metrics import ServerMetrics
from mcp_server.observability.pipeline_metrics import MAX_JOB_LABELS
from orchestration.definitions import build_definitions
from orchestration.defs.monitoring.sensors import (
    FAILURE_SENSOR,
    SUCCESS_SENSOR,
    record_failed_runs,
    record_successful_runs,
)
from orchestration.refresh import refresh_all
from orchestration.resources import WarehouseResource
from tests.integration.mcp_helpers import make_keys, server_env, serving_http
from warehouse.db import connect, with_database
from warehouse.pipeline_runs import PipelineFigures, PipelineRun, record_pipeline_run

pytestmark = pytest.mark.integration


@dg.asset
def tiny() -> int:
    return 1


@dg.asset
def broken() -> int:
    raise RuntimeError("the step fails on purpose")


@dg.asset_check(asset=tiny)
def tiny_error_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=tiny)
def tiny_warn_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=tiny)
def tiny_passing_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


CHECKS = [tiny_error_check, tiny_warn_check, tiny_passing_check]


def _defs(url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[tiny, broken],
        asset_checks=CHECKS,
        jobs=[
            dg.define_asset_job("tiny_job", selection=[tiny]),
            dg.define_asset_job("broken_job", selection=[broken]),
        ],
        resources={"warehouse": WarehouseResource(database_url=url)},
    )


def _rows(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            "SELECT run_id, job_name, status, started_at, finished_at, duration_seconds, failed_checks"
            " FROM ops.pipeline_runs ORDER BY finished_at"
        ).fetchall()


def test_the_sensors_record_a_real_successful_and_a_real_failed_run(empty_database_url):
    url = empty_database_url
    defs = _defs(url)
    resources = {"warehouse": WarehouseResource(database_url=url)}
    before = dt.datetime.now(dt.UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        ok = defs.resolve_job_def("tiny_job").execute_in_process(instance=instance)
        assert ok.success
        context = dg.build_run_status_sensor_context(
            sensor_name=SUCCESS_SENSOR,
            dagster_event=ok.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=ok.dagster_run,
            resources=resources,
        )
        record_successful_runs(context)
        record_successful_runs(context)  # the daemon and `refresh` may both see a run: one row

        failed = defs.resolve_job_def("broken_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not failed.success
        context = dg.build_run_status_sensor_context(
            sensor_name=FAILURE_SENSOR,
            dagster_event=failed.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=failed.dagster_run,
            resources=resources,
        )
        record_failed_runs(context)
        stats = instance.get_run_stats(ok.run_id)
    after = dt.datetime.now(dt.UTC)

    (success, failure) = _rows(url)
    run_id, job, status, started, finished, duration, failed_checks = success
    assert (run_id, job, status, failed_checks) == (ok.run_id, "tiny_job", "success", 1)  # the warning: 0
    assert before <= started < finished <= after
    assert started.timestamp() == pytest.approx(stats.start_time, abs=1e-3)
    assert finished.timestamp() == pytest.approx(stats.end_time, abs=1e-3)
    assert duration > 0 and duration == pytest.approx((finished - started).total_seconds(), abs=1e-3)
    run_id, job, status, started, finished, duration, failed_checks = failure
    assert (run_id, job, status, failed_checks) == (failed.run_id, "broken_job", "failure", 0)
    assert started is not None and duration > 0


def test_a_sensor_tick_records_the_runs_finished_since_its_cursor(empty_database_url):
    """As the daemon evaluates it: the first tick sets the cursor, the next one sees the new run."""
    url = empty_database_url
    resources = {"warehouse": WarehouseResource(database_url=url)}
    with dg.DagsterInstance.ephemeral() as instance:
        first = record_failed_runs.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        failed = (
            _defs(url)
            .resolve_job_def("broken_job")
            .execute_in_process(instance=instance, raise_on_error=False)
        )
        tick = record_failed_runs.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
        )
    assert [reaction.dagster_run.run_id for reaction in tick.dagster_run_reactions] == [failed.run_id]
    assert tick.dagster_run_reactions[0].error is None
    assert [(r[0], r[1], r[2]) for r in _rows(url)] == [(failed.run_id, "broken_job", "failure")]


def test_the_code_location_has_both_sensors_running_by_default():
    repository = build_definitions().get_repository_def()
    for name in (SUCCESS_SENSOR, FAILURE_SENSOR):
        sensor = repository.get_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.required_resource_keys == {"warehouse"}


def test_refresh_all_records_its_in_process_run(empty_database_url):
    report = refresh_all(
        dg.Definitions(assets=[tiny], asset_checks=CHECKS, resources=_defs(empty_database_url).resources)
    )
    assert report.success and report.checks_failed == ["tiny:tiny_error_check"]
    ((run_id, job, status, started, finished, duration, failed_checks),) = _rows(empty_database_url)
    assert (run_id, job, status, failed_checks) == (report.run_id, "__ASSET_JOB", "success", 1)
    assert started < finished and duration > 0


def test_a_warehouse_refresh_cannot_write_to_costs_a_warning_not_the_refresh(empty_database_url, caplog):
    missing = with_database(empty_database_url, "telcopulse_no_such_database")
    defs = dg.Definitions(assets=[tiny], resources={"warehouse": WarehouseResource(database_url=missing)})
    with caplog.at_level(logging.WARNING, logger="orchestration.refresh"):
        report = refresh_all(defs)
    assert report.ok
    (record,) = [r for r in caplog.records if r.name == "orchestration.refresh"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        f"run {report.run_id} not recorded in ops.pipeline_runs (OperationalError"
    )


# --- /metrics ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 10, 31, 6, 0, tzinfo=dt.UTC)


def _run(run_id: str, job: str, status: str, hours_ago: float, seconds: float | None) -> PipelineRun:
    finished = NOW - dt.timedelta(hours=hours_ago)
    started = None if seconds is None else finished - dt.timedelta(seconds=seconds)
    return PipelineRun(run_id, job, status, finished_at=finished, started_at=started)  # type: ignore[arg-type]


RUNS = [
    _run("r1", "refresh_marts", "success", 72, 100.0),
    _run("r2", "refresh_marts", "failure", 48, 30.0),
    _run("r3", "refresh_marts", "success", 24, 90.0),
    _run("r4", "refresh_marts", "success", 1, 12.5),  # refresh_marts' newest run
    _run("i1", "import_landed_file_job", "success", 30, 4.0),
    _run("i2", "import_landed_file_job", "success", 2, 3.25),
    _run("a1", "__ASSET_JOB", "failure", 3, None),  # never started: duration unknown
]

# (table, scope, expectation, column, severity, success, hours ago)
VERDICTS = [
    ("customers", "table", "daily_volume", None, "error", False, 30),
    ("customers", "table", "daily_volume", None, "error", True, 2),  # failed, then passed: not failing
    ("network_events", "table", "null_share", "event_type", "error", True, 30),
    ("network_events", "table", "null_share", "event_type", "error", False, 2),  # failing
    ("network_events", "table", "null_share", "duration_seconds", "error", True, 2),
    ("revenue", "table", "freshness", None, "warn", False, 2),  # failing warning
    ("customers", "batch", "daily_volume", None, "error", False, 1),  # failing, an import's batch
]

# (kind, row_counts, hours ago)
LOADS = [
    ("synthetic", {"customers": 800, "network_events": 50_000, "revenue": 9_000}, 48),
    ("import", {"network_events": 120}, 5),
    ("import", {"not_a_raw_table": 5}, 4),
]


def _fill(url: str) -> None:
    for run in RUNS:
        assert record_pipeline_run(url, run)
    assert not record_pipeline_run(url, RUNS[0])  # already there
    with connect(url) as conn:
        for table, scope, expectation, column, severity, success, hours in VERDICTS:
            conn.execute(
                "INSERT INTO ops.quality_results (checked_at, table_name, scope, expectation, column_name,"
                " severity, success) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (NOW - dt.timedelta(hours=hours), table, scope, expectation, column, severity, success),
            )
        for kind, counts, hours in LOADS:
            conn.execute(
                "INSERT INTO ops.raw_loads (loaded_at, kind, row_counts) VALUES (%s, %s, %s)",
                (NOW - dt.timedelta(hours=hours), kind, json.dumps(counts)),
            )


def _pipeline_series(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("telcopulse_pipeline_"):
                found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _by(series: dict[tuple[tuple[str, str], ...], float]) -> dict[tuple[str, ...], float]:
    return {tuple(value for _, value in labels): v for labels, v in series.items()}


async def test_metrics_show_the_pipeline_tables_exactly(empty_database_url, redis_url, tmp_path):
    url = empty_database_url
    _fill(url)
    with connect(url) as conn, conn.transaction():  # what the server's least-privilege role may read
        conn.execute("SET LOCAL ROLE telcopulse_mcp")
        assert conn.execute("SELECT count(*) FROM ops.pipeline_runs").fetchone() == (len(RUNS),)
    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"ops": "admin"})
    env = server_env(url, redis_url, tmp_path, TELCOPULSE_API_KEYS_FILE=str(keys_file))
    with serving_http(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            admin = {"Authorization": f"Bearer {keys['ops']}"}
            scraped = await http.get("/metrics", headers=admin)
            assert scraped.status_code == 200, scraped.text
            # Read at most every 15 s: a run recorded now shows in a later scrape, not this one.
            record_pipeline_run(url, _run("r5", "refresh_marts", "success", 0, 1.0))
            again = await http.get("/metrics", headers=admin)

    series = _pipeline_series(scraped.text)
    assert set(series) == {
        "telcopulse_pipeline_runs_total",
        "telcopulse_pipeline_run_duration_seconds",
        "telcopulse_pipeline_failed_checks",
        "telcopulse_pipeline_rows_loaded",
    }
    # labels sorted by name: (dagster_job, status)
    assert _by(series["telcopulse_pipeline_runs_total"]) == {
        ("refresh_marts", "success"): 3,
        ("refresh_marts", "failure"): 1,
        ("import_landed_file_job", "success"): 2,
        ("__ASSET_JOB", "failure"): 1,
    }
    durations = _by(series["telcopulse_pipeline_run_duration_seconds"])
    assert set(durations) == {("refresh_marts",), ("import_landed_file_job",), ("__ASSET_JOB",)}
    assert durations[("refresh_marts",)] == 12.5
    assert durations[("import_landed_file_job",)] == 3.25
    assert math.isnan(durations[("__ASSET_JOB",)])
    assert _by(series["telcopulse_pipeline_failed_checks"]) == {("error",): 2, ("warn",): 1}
    assert _by(series["telcopulse_pipeline_rows_loaded"]) == {
        ("customers",): 800,
        ("network_events",): 120,  # the newest load of the table: the import
        ("revenue",): 9_000,
    }
    assert "not_a_raw_table" not in scraped.text
    assert "# TYPE telcopulse_pipeline_runs_total counter" in scraped.text
    unchanged = _pipeline_series(again.text)["telcopulse_pipeline_runs_total"]
    assert unchanged == series["telcopulse_pipeline_runs_total"]  # r5 not counted yet


def test_job_labels_are_capped_at_the_newest_jobs_and_the_rest_count_as_other():
    metrics = ServerMetrics("test")
    assert "telcopulse_pipeline_" not in metrics.render().decode()  # unknown before the first read
    jobs = [f"job_{i:02d}" for i in range(MAX_JOB_LABELS + 2)]  # newest first
    metrics.pipeline_seen(
        PipelineFigures(
            runs={**{(job, "success"): 2 for job in jobs}, ("job_00", "cancelled"): 1},  # type: ignore[dict-item]
            last_durations=tuple((job, 1.0) for job in jobs),
            failing_checks={"error": 1, "critical": 4},
            rows_loaded={"customers": 5.0},
        )
    )
    series = _pipeline_series(metrics.render().decode())
    runs = _by(series["telcopulse_pipeline_runs_total"])
    assert runs[("other", "success")] == 4  # the two oldest jobs
    assert runs[("job_00", "other")] == 1
    assert {job for job, _ in runs} == {*jobs[:MAX_JOB_LABELS], "other"}
    assert len(series["telcopulse_pipeline_run_duration_seconds"]) == MAX_JOB_LABELS
    assert _by(series["telcopulse_pipeline_failed_checks"]) == {("error",): 1, ("warn",): 0, ("other",): 4}
    assert _by(series["telcopulse_pipeline_rows_loaded"]) == {("customers",): 5}
