-- Least privilege for the MCP server: role telcopulse_mcp holds exactly what the server's
-- own code reads and writes, so the server can log in as a member of it (see
-- `telcopulse db grant`, warehouse/roles.py) instead of as the owner of the warehouse.
-- Every privilege below is named after the code that needs it; anything else (schema raw,
-- DDL, rewriting audit rows, changing API keys) fails with "permission denied".
--
-- Ad-hoc SQL still runs as telcopulse_query: the server opens a READ ONLY transaction and
-- switches with SET LOCAL ROLE telcopulse_query (mcp_server/query/executor.py), which only
-- a member may do.

-- Roles are cluster-wide: another database on the same server may have created it
-- already (or be creating it right now), hence the guard and the exception handler.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'telcopulse_mcp') THEN
        CREATE ROLE telcopulse_mcp NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- Membership (cluster-wide too): lets the server SET LOCAL ROLE telcopulse_query.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_auth_members m
        JOIN pg_roles g ON g.oid = m.roleid
        JOIN pg_roles u ON u.oid = m.member
        WHERE g.rolname = 'telcopulse_query' AND u.rolname = 'telcopulse_mcp'
    ) THEN
        GRANT telcopulse_query TO telcopulse_mcp;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- Defence in depth: a session that logs in as telcopulse_query (should a DBA ever give it
-- LOGIN) starts read-only. It does not apply to SET ROLE, which is why the server's
-- transactions are READ ONLY themselves. Checked first so re-runs write nothing.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
        WHERE r.rolname = 'telcopulse_query' AND s.setdatabase = 0
          AND 'default_transaction_read_only=on' = ANY (s.setconfig)
    ) THEN
        ALTER ROLE telcopulse_query SET default_transaction_read_only = on;
    END IF;
EXCEPTION WHEN unique_violation THEN
    NULL;  -- a concurrent migration of another database set it first
END $$;

-- Schemas the server touches; never raw.
GRANT USAGE ON SCHEMA ops, analytics, marts, intermediate, staging TO telcopulse_mcp;

-- Marts (tools, analyses, catalog) and the layers under them (ad-hoc SQL, data dictionary).
-- Default privileges cover tables dbt creates later as the migrating user, as in 0003.
GRANT SELECT ON ALL TABLES IN SCHEMA marts, intermediate, staging TO telcopulse_mcp;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts, intermediate, staging GRANT SELECT ON TABLES TO telcopulse_mcp;

-- Data version (warehouse/analysis_store.py) and last build time (tools/marts.py).
GRANT SELECT ON ops.data_builds, ops.raw_loads TO telcopulse_mcp;

-- Session archive: upsert on close, read back on restore (sessions/store.py).
GRANT SELECT, INSERT, UPDATE ON ops.session_archive TO telcopulse_mcp;

-- Audit trail: append only (observability/audit.py); the id comes from its sequence.
GRANT INSERT ON ops.audit_log TO telcopulse_mcp;
GRANT USAGE ON SEQUENCE ops.audit_log_id_seq TO telcopulse_mcp;

-- Analysis results: read, and insert with ON CONFLICT DO NOTHING (analysis_runner.py), so
-- no UPDATE: a stored result is never rewritten by the server.
GRANT SELECT, INSERT ON analytics.analysis_results TO telcopulse_mcp;

-- API key verification reads the row; the only write is the last-use stamp
-- (security/api_keys.py). Creating/revoking keys is `telcopulse keys`, run by an operator.
GRANT SELECT ON ops.api_keys TO telcopulse_mcp;
GRANT UPDATE (last_used_at) ON ops.api_keys TO telcopulse_mcp;
