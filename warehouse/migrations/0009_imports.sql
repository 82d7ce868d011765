-- File imports (`telcopulse import`, the Dagster landing-folder sensor): one row per file
-- attempt in ops.imports, and one row per rejected record in ops.import_rejects.
--
-- An import writes its raw rows, its rejects, its ops.imports row and its ops.raw_loads row
-- in ONE transaction, so a person never finds rejects of a file whose good rows are missing
-- (or the reverse). A refused file (unreadable, no header, missing columns, scanned PDF…)
-- writes only its ops.imports row with status 'refused' and the reason: nothing in raw.

CREATE TABLE ops.imports (
    import_id       UUID PRIMARY KEY,
    table_name      TEXT NOT NULL CHECK (table_name IN ('customers', 'network_events', 'revenue')),
    source_file     TEXT NOT NULL,
    sha256          TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    format          TEXT NOT NULL,
    rows_read       BIGINT NOT NULL DEFAULT 0,
    rows_loaded     BIGINT NOT NULL DEFAULT 0,
    rows_rejected   BIGINT NOT NULL DEFAULT 0,
    -- events / revenue whose key is already in raw (skipped), customers updated in place
    rows_duplicate  BIGINT NOT NULL DEFAULT 0,
    rows_updated    BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL CHECK (status IN ('loaded', 'refused')),
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    error           TEXT,
    mapping         JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Days (event_timestamp / transaction_date) that received rows: the next mart build
    -- re-processes exactly these days in the incremental marts (late-arriving data).
    affected_days   DATE[] NOT NULL DEFAULT '{}',
    -- An existing customer's signup, location or account type changed: history-wide marts
    -- must be rebuilt in full.
    history_changed BOOLEAN NOT NULL DEFAULT FALSE
);
COMMENT ON TABLE ops.imports IS 'One row per file import attempt: counts, status, checksum (idempotency) and the days it touched.';
-- The same content is loaded at most once per table (retries and re-drops load nothing).
CREATE UNIQUE INDEX uq_imports_loaded_content ON ops.imports (table_name, sha256) WHERE status = 'loaded';
CREATE INDEX idx_imports_finished_at ON ops.imports (finished_at DESC);

CREATE TABLE ops.import_rejects (
    reject_id      BIGSERIAL PRIMARY KEY,
    import_id      UUID NOT NULL REFERENCES ops.imports (import_id) ON DELETE CASCADE,
    table_name     TEXT NOT NULL,
    source_file    TEXT NOT NULL,
    -- "line 12" (CSV/TSV, the header is line 1), "row 7" (Parquet), "page 2 row 5" (PDF)
    record_number  TEXT NOT NULL,
    -- the record's position in the file (1-based), for ordering
    record_index   BIGINT NOT NULL,
    -- column, rule and offending value, e.g. "age: must be between 18 and 120, got '7'"
    reason         TEXT NOT NULL,
    -- the same without values ("age:range"), safe to show and group by
    rules          TEXT[] NOT NULL,
    record         JSONB NOT NULL
);
COMMENT ON TABLE ops.import_rejects IS 'Records an import kept aside, one row per record, with the reasons and the record as read.';
CREATE INDEX idx_import_rejects_import ON ops.import_rejects (import_id, record_index);

-- The MCP server lists recent imports and their rejects to admins; freshness shows the last import.
GRANT SELECT ON ops.imports, ops.import_rejects TO telcopulse_mcp;
