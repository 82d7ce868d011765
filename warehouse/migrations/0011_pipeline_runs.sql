-- Pipeline run outcomes: one row per finished Dagster run of this code location, so the MCP
-- server's /metrics can count runs by job and outcome, show the last build's duration and let
-- an operator alert on them (the Dagster UI shows runs, but nothing scrapes it).
--
-- Written by the Dagster run-status sensors and by `telcopulse refresh` (an in-process run the
-- daemon never sees); both may record the same run, hence run_id is the key and the writer
-- inserts with ON CONFLICT DO NOTHING.

CREATE TABLE ops.pipeline_runs (
    run_id           TEXT PRIMARY KEY,
    job_name         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('success', 'failure')),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ NOT NULL,
    duration_seconds DOUBLE PRECISION,
    -- asset checks of severity ERROR that failed in this run (the quality gate, dbt tests)
    failed_checks    INTEGER NOT NULL DEFAULT 0
);
COMMENT ON TABLE ops.pipeline_runs IS
    'One row per finished Dagster run (job, success or failure, duration, failed error checks).';
CREATE INDEX idx_pipeline_runs_finished_at ON ops.pipeline_runs (finished_at DESC);

-- The MCP server reads it for /metrics, as it reads ops.quality_results and ops.raw_loads.
GRANT SELECT ON ops.pipeline_runs TO telcopulse_mcp;
