"""A finished Dagster run as a `PipelineRun`: what ops.pipeline_runs keeps of it.

One function for both recorders (the run-status sensors and the in-process refresh), so a run
is described the same way whichever of them writes it first.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from warehouse.pipeline_runs import PipelineRun, RunStatus


def failed_error_checks(instance: dg.DagsterInstance, run_id: str) -> int:
    """Asset checks of severity ERROR that failed in the run (warnings block nothing: not counted)."""
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    failed = 0
    for entry in entries:
        if entry.dagster_event is None:
            continue
        evaluation = entry.dagster_event.asset_check_evaluation_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed += 1
    return failed


def _moment(timestamp: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp is not None else None


def observed_run(instance: dg.DagsterInstance, run: dg.DagsterRun, status: RunStatus) -> PipelineRun:
    """The run's row: start and end from the instance's run stats (the events' own times)."""
    stats = instance.get_run_stats(run.run_id)
    finished = _moment(stats.end_time) or dt.datetime.now(dt.UTC)
    return PipelineRun(
        run_id=run.run_id,
        job_name=run.job_name,
        status=status,
        started_at=_moment(stats.start_time),
        finished_at=finished,
        failed_checks=failed_error_checks(instance, run.run_id),
    )
