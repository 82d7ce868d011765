"""The monitoring part of the code location: the run-status sensors behind the pipeline metrics."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.monitoring.sensors import record_failed_runs, record_successful_runs


def monitoring_definitions() -> dg.Definitions:
    return dg.Definitions(sensors=[record_successful_runs, record_failed_runs])
