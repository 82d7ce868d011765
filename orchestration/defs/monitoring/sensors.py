"""Run-status sensors that keep each finished run in ops.pipeline_runs, for /metrics.

Dagster's UI shows runs, but an operator alerts from Prometheus: these sensors turn every
successful or failed run of this code location into a row the MCP server counts at scrape
time. Runs started in-process (`telcopulse refresh`) are invisible to the daemon's sensors;
`orchestration.refresh` records those itself.

A write that fails (PostgreSQL down) raises, so the sensor tick shows the error in the UI; the
run itself is long finished and unaffected.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.monitoring.runs import observed_run
from orchestration.resources import WarehouseResource
from warehouse.pipeline_runs import record_pipeline_run

SUCCESS_SENSOR = "record_successful_runs"
FAILURE_SENSOR = "record_failed_runs"


@dg.run_status_sensor(
    name=SUCCESS_SENSOR,
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records each successful run (job, duration, failed error checks) in ops.pipeline_runs, "
    "which the MCP server's /metrics reads.",
)
def record_successful_runs(context: dg.RunStatusSensorContext, warehouse: WarehouseResource) -> None:
    run = observed_run(context.instance, context.dagster_run, "success")
    record_pipeline_run(warehouse.url(), run)
    context.log.info("recorded run %s of %s: success", run.run_id, run.job_name)


@dg.run_failure_sensor(
    name=FAILURE_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records each failed run in ops.pipeline_runs, which the MCP server's /metrics reads.",
)
def record_failed_runs(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    run = observed_run(context.instance, context.dagster_run, "failure")
    record_pipeline_run(warehouse.url(), run)
    context.log.info("recorded run %s of %s: failure", run.run_id, run.job_name)
