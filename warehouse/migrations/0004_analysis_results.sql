-- Precomputed and on-demand analysis results, keyed by the data version they were computed
-- on. They survive a Redis flush, and the Dagster UI / a person can read them with SQL.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE analytics.analysis_results (
    data_version   TEXT NOT NULL,
    analysis_type  TEXT NOT NULL,
    data_source    TEXT NOT NULL,
    params_hash    TEXT NOT NULL,
    parameters     JSONB NOT NULL DEFAULT '{}'::jsonb,
    result         JSONB NOT NULL,
    row_count      INTEGER NOT NULL,
    computed_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms    INTEGER NOT NULL,
    computed_by    TEXT NOT NULL,
    PRIMARY KEY (data_version, analysis_type, data_source, params_hash)
);
CREATE INDEX idx_analysis_results_computed_at ON analytics.analysis_results (computed_at DESC);

-- The query role may read results too (agents can SELECT them); only the owner writes.
GRANT USAGE ON SCHEMA analytics TO telcopulse_query;
GRANT SELECT ON analytics.analysis_results TO telcopulse_query;
