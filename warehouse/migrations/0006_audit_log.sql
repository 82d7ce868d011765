-- Audit trail of MCP tool calls: who (key id, principal, role) ran what (tool, query shape
-- with every literal replaced, never the values), when, over which transport, and how it
-- ended. Written in batches by mcp_server.observability.audit.AuditLog.
CREATE TABLE ops.audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    key_id       TEXT,            -- public part of the API key (tp_<key_id>_...), NULL on stdio
    principal    TEXT,
    role         TEXT,
    transport    TEXT,            -- stdio | http
    tool         TEXT NOT NULL,
    outcome      TEXT NOT NULL,   -- ok | error name: QueryError, Forbidden, RateLimited, AuthError, ...
    error        TEXT,            -- the error message, PII-masked and shortened by the writer
    query_shape  TEXT,            -- redacted SQL: literals replaced, comments dropped
    query_hash   TEXT,            -- 16 hex of sha256(query_shape): groups equal shapes
    data_source  TEXT,
    rows         INTEGER,
    duration_ms  INTEGER,
    session_id   TEXT
);
CREATE INDEX idx_audit_log_at ON ops.audit_log (at);
CREATE INDEX idx_audit_log_key_at ON ops.audit_log (key_id, at);

-- Append-only. The point of an audit log is that "who ran what query shape when" cannot be
-- rewritten afterwards by the role that is being audited, and the MCP server's database
-- role is exactly the one that writes these rows. So UPDATE and DELETE fail for everyone,
-- even with zero matching rows (statement-level triggers fire regardless), and TRUNCATE
-- (which skips row triggers) has its own statement trigger.
--
-- Limits, stated plainly: the table owner or a superuser can still DROP/ALTER the triggers.
-- Full tamper resistance needs the server to write as a role that has INSERT only and does
-- not own the table, or the rows shipped off-box; these triggers stop accidents, buggy
-- code and casual edits, and make a deliberate edit a visible DDL step.
CREATE FUNCTION ops.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ops.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are evidence; only INSERT is permitted';
END
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON ops.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ops.audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON ops.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ops.audit_log_append_only();

-- Belt and braces for any role other than the owner: no privilege to change rows at all.
REVOKE UPDATE, DELETE, TRUNCATE ON ops.audit_log FROM PUBLIC;
-- Ad-hoc SQL must not read other callers' query shapes either, whatever default
-- privileges a DBA has set on ops (the schema itself is closed by migration 0003).
REVOKE ALL ON ops.audit_log FROM telcopulse_query;
