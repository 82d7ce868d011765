"""The refresh as one trace: a `refresh` span around the Dagster run, in the CLI's process.

The run executes in-process (`refresh_all`), so what its assets do through psycopg, asyncpg
and Redis are child spans of it, and psycopg's statements carry the trace id in a
sqlcommenter comment (`warehouse.tracing`). dbt runs as its own process and is not traced.
Off unless the OTEL_* variables ask for traces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry.trace import StatusCode

from warehouse.tracing import configure_tracing, shutdown_tracing, tracer

if TYPE_CHECKING:  # Dagster is imported only once a refresh runs
    from orchestration.refresh import RefreshReport

PIPELINE_SERVICE = "telcopulse-pipeline"


@contextmanager
def traced_refresh(run_id: str) -> Iterator[Callable[[RefreshReport], RefreshReport]]:
    """A `refresh` span for Dagster run `run_id`; call the yielded function with the report."""
    configure_tracing(PIPELINE_SERVICE)
    try:
        with tracer().start_as_current_span("refresh", attributes={"dagster.run_id": run_id}) as span:

            def finished(report: RefreshReport) -> RefreshReport:
                span.set_attribute("telcopulse.outcome", "ok" if report.ok else "failed")
                span.set_attribute("telcopulse.assets", len(report.materialized))
                span.set_attribute("telcopulse.checks_failed", len(report.checks_failed))
                if not report.ok:
                    span.set_status(StatusCode.ERROR)
                return report

            yield finished
    finally:
        shutdown_tracing()  # the CLI exits right after: flush what is queued
