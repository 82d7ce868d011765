-- Operational tables owned by the pipeline and read by the MCP server.
CREATE SCHEMA IF NOT EXISTS ops;

-- One row per successful mart build. The newest build_id is the "data version"
-- that keys every cache: a refresh bumps it, so stale cache entries are never served.
CREATE TABLE ops.data_builds (
    build_id      TEXT PRIMARY KEY,
    finished_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    source        TEXT NOT NULL,
    models_built  INTEGER NOT NULL DEFAULT 0,
    details       JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX idx_data_builds_finished_at ON ops.data_builds (finished_at DESC);

-- Record of each synthetic or imported raw load, so a person can tell what is in raw.
CREATE TABLE ops.raw_loads (
    load_id       BIGSERIAL PRIMARY KEY,
    loaded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind          TEXT NOT NULL,
    parameters    JSONB NOT NULL DEFAULT '{}'::jsonb,
    row_counts    JSONB NOT NULL DEFAULT '{}'::jsonb
);
