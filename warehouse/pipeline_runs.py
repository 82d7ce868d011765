"""Pipeline run outcomes in ops.pipeline_runs (migration 0011), and the figures /metrics shows.

Both sides live here because both must agree on the table: Dagster (the run-status sensors and
`telcopulse refresh`) writes one row per finished run with `record_pipeline_run`, and the MCP
server reads `pipeline_figures` at scrape time. The figures also take in the data-quality
verdicts (ops.quality_results) and the raw loads (ops.raw_loads), so an operator can alert on
"the gate is failing" and "yesterday's load was empty" from the same scrape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from warehouse.db import connect
from warehouse.raw_schema import RAW_TABLE_NAMES

if TYPE_CHECKING:  # the writer side (Dagster) never needs asyncpg
    import asyncpg

RunStatus = Literal["success", "failure"]


@dataclass(frozen=True)
class PipelineRun:
    """One finished run, as Dagster reports it (its run id is the row's key)."""

    run_id: str
    job_name: str
    status: RunStatus
    finished_at: dt.datetime
    started_at: dt.datetime | None = None
    failed_checks: int = 0  # asset checks of severity ERROR that failed in the run

    @property
    def duration_seconds(self) -> float | None:
        """Wall time from the run's start to its end; unknown when Dagster never saw it start."""
        if self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


# The sensor and the in-process refresh may both record one run: the first write wins.
_INSERT_SQL = (
    "INSERT INTO ops.pipeline_runs (run_id, job_name, status, started_at, finished_at, duration_seconds,"
    " failed_checks) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING"
)


def record_pipeline_run(database_url: str, run: PipelineRun) -> bool:
    """Write the run's row on a connection of its own; False when it was already recorded.

    Its own connection: the caller is a sensor or a finished refresh, with no transaction of
    its own to join.
    """
    with connect(database_url) as conn:
        cur = conn.execute(
            _INSERT_SQL,
            (
                run.run_id,
                run.job_name,
                run.status,
                run.started_at,
                run.finished_at,
                run.duration_seconds,
                run.failed_checks,
            ),
        )
        return cur.rowcount == 1


# --- the read side: what /metrics shows (asyncpg, the MCP server's pool) ----------------------

RUN_COUNTS_SQL = "SELECT job_name, status, count(*) AS runs FROM ops.pipeline_runs GROUP BY job_name, status"
# Each job's newest run, newest job first (the server keeps label values for the newest jobs).
LAST_RUNS_SQL = """
SELECT job_name, duration_seconds FROM (
    SELECT DISTINCT ON (job_name) job_name, duration_seconds, finished_at
    FROM ops.pipeline_runs ORDER BY job_name, finished_at DESC, run_id DESC
) AS last ORDER BY finished_at DESC, job_name
"""
# Each expectation's latest verdict (per table, scope and column), failures counted by severity:
# an expectation that failed once and passed since is no longer failing.
FAILING_EXPECTATIONS_SQL = """
SELECT severity, count(*) FILTER (WHERE NOT success) AS failing FROM (
    SELECT DISTINCT ON (table_name, scope, expectation, column_name) severity, success
    FROM ops.quality_results
    ORDER BY table_name, scope, expectation, column_name, checked_at DESC, result_id DESC
) AS latest GROUP BY severity
"""
# Per raw table, the rows its newest load wrote (an import loads one table, a synthetic load all).
ROWS_LOADED_SQL = """
SELECT DISTINCT ON (counts.key) counts.key AS table_name, (counts.value #>> '{}')::double precision AS rows
FROM ops.raw_loads AS raw_load, jsonb_each(raw_load.row_counts) AS counts
WHERE counts.key = ANY($1::text[]) AND jsonb_typeof(counts.value) = 'number'
ORDER BY counts.key, raw_load.loaded_at DESC, raw_load.load_id DESC
"""


@dataclass(frozen=True)
class PipelineFigures:
    """What the pipeline tables say now; label policy (caps, folding) is the reader's business."""

    runs: Mapping[tuple[str, RunStatus], int] = field(default_factory=dict)  # (job, status) -> runs
    # (job, seconds of its newest run), the job with the newest run first
    last_durations: tuple[tuple[str, float | None], ...] = ()
    failing_checks: Mapping[str, int] = field(default_factory=dict)  # severity -> failing expectations
    rows_loaded: Mapping[str, float] = field(default_factory=dict)  # raw table -> rows of its newest load


async def pipeline_figures(conn: asyncpg.Connection) -> PipelineFigures:
    """Read the figures in one read-only snapshot, so they agree with each other."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        runs = await conn.fetch(RUN_COUNTS_SQL)
        last = await conn.fetch(LAST_RUNS_SQL)
        failing = await conn.fetch(FAILING_EXPECTATIONS_SQL)
        loaded = await conn.fetch(ROWS_LOADED_SQL, list(RAW_TABLE_NAMES))
    return PipelineFigures(
        runs={(r["job_name"], r["status"]): int(r["runs"]) for r in runs},
        last_durations=tuple((r["job_name"], r["duration_seconds"]) for r in last),
        failing_checks={r["severity"]: int(r["failing"]) for r in failing},
        rows_loaded={r["table_name"]: float(r["rows"]) for r in loaded},
    )
