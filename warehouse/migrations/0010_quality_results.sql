-- Data-quality results: one row per expectation evaluated by the quality suites
-- (package `quality`), at table scope (the Dagster gate before the marts, on raw.*) or at
-- batch scope (one import's staged rows, before they reach raw.*).
--
-- Kept apart from ops.imports on purpose: a refused import's transaction is rolled back,
-- but the verdict that refused it must survive, so it is written on its own connection
-- (hence import_id has no foreign key: the import row may never exist).

CREATE TABLE ops.quality_results (
    result_id    BIGSERIAL PRIMARY KEY,
    checked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    table_name   TEXT NOT NULL CHECK (table_name IN ('customers', 'network_events', 'revenue')),
    scope        TEXT NOT NULL CHECK (scope IN ('table', 'batch')),
    -- our stable name of the expectation: daily_volume, null_share, daily_mean, freshness…
    expectation  TEXT NOT NULL,
    column_name  TEXT,
    -- error blocks the marts (or refuses the batch); warn is shown only
    severity     TEXT NOT NULL CHECK (severity IN ('error', 'warn')),
    success      BOOLEAN NOT NULL,
    -- what was judged: the day's value, the failing days, per-day values
    observed     JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- expected bounds, the Great Expectations type, the one-line explanation, the window
    details      JSONB NOT NULL DEFAULT '{}'::jsonb,
    run_id       TEXT,
    import_id    UUID
);
COMMENT ON TABLE ops.quality_results IS
    'One row per data-quality expectation evaluation (raw tables before the marts, or an import batch).';
CREATE INDEX idx_quality_results_table_checked ON ops.quality_results (table_name, checked_at DESC);
CREATE INDEX idx_quality_results_run ON ops.quality_results (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX idx_quality_results_import ON ops.quality_results (import_id) WHERE import_id IS NOT NULL;

-- Admins see data-quality verdicts through the MCP server, as they see imports.
GRANT SELECT ON ops.quality_results TO telcopulse_mcp;
