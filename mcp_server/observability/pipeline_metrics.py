"""The pipeline's outcomes as Prometheus series: runs, last durations, failing checks, rows loaded.

The figures live in PostgreSQL (`warehouse.pipeline_runs`), written by Dagster, so they are not
counted in this process: the scrape reads a snapshot (at most every 15 s) and this collector
renders it. Run counts are cumulative in the table, hence a counter family built from the
snapshot (`telcopulse_pipeline_runs_total`) rather than a Counter incremented here.

Label values stay bounded: job names are written only by our Dagster code, yet at most
`MAX_JOB_LABELS` of them (those with the newest runs) become labels and the rest count as
`other`; severities are `error`/`warn` (anything else `other`); tables are the raw tables only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from warehouse.pipeline_runs import PipelineFigures, RunStatus
from warehouse.raw_schema import RAW_TABLE_NAMES

MAX_JOB_LABELS = 50
CHECK_SEVERITIES = ("error", "warn")
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
OTHER = "other"


def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (
        CounterMetricFamily(
            "telcopulse_pipeline_runs",
            "Finished Dagster runs by job and status (success, failure), from ops.pipeline_runs",
            labels=["dagster_job", "status"],
        ),
        GaugeMetricFamily(
            "telcopulse_pipeline_run_duration_seconds",
            "Duration of each job's newest finished run",
            labels=["dagster_job"],
        ),
        GaugeMetricFamily(
            "telcopulse_pipeline_failed_checks",
            "Data-quality expectations failing in their latest evaluation, by severity",
            labels=["severity"],
        ),
        GaugeMetricFamily(
            "telcopulse_pipeline_rows_loaded",
            "Rows the newest load of each raw table wrote",
            labels=["table"],
        ),
    )


class PipelineCollector(Collector):
    """Renders the last snapshot read; nothing until the first read succeeds (unknown, not zero)."""

    def __init__(self) -> None:
        self.figures: PipelineFigures | None = None

    def describe(self) -> Iterable[Metric]:
        return _families()

    def collect(self) -> Iterable[Metric]:
        figures = self.figures
        if figures is None:
            return []
        runs, durations, failing, rows = _families()
        named = {job for job, _ in figures.last_durations[:MAX_JOB_LABELS]}
        counted: dict[tuple[str, str], float] = {}
        for (job, status), n in figures.runs.items():
            key = (job if job in named else OTHER, status if status in RUN_STATUSES else OTHER)
            counted[key] = counted.get(key, 0) + n
        for (job, status), n in sorted(counted.items()):
            runs.add_metric([job, status], n)
        for job, seconds in figures.last_durations[:MAX_JOB_LABELS]:
            durations.add_metric([job], float("nan") if seconds is None else seconds)
        by_severity = dict.fromkeys(CHECK_SEVERITIES, 0)
        for severity, n in figures.failing_checks.items():
            label = severity if severity in CHECK_SEVERITIES else OTHER
            by_severity[label] = by_severity.get(label, 0) + n
        for severity, n in by_severity.items():
            failing.add_metric([severity], n)
        for table in RAW_TABLE_NAMES:
            if table in figures.rows_loaded:
                rows.add_metric([table], figures.rows_loaded[table])
        return [runs, durations, failing, rows]
