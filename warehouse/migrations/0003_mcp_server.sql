-- What the MCP server needs from the warehouse: a least-privilege role for ad-hoc SQL
-- and a table where closed sessions are archived.

-- Roles are cluster-wide: another database on the same server may have created it
-- already (or be creating it right now), hence the guard and the exception handler.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'telcopulse_query') THEN
        CREATE ROLE telcopulse_query NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- The server connects as the migrating user and switches with SET LOCAL ROLE inside
-- each read-only transaction; a non-superuser needs to be a member to do that.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT telcopulse_query TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN
    RAISE WARNING 'could not grant telcopulse_query to %: ad-hoc SQL will fail until a DBA does', current_user;
END $$;

-- dbt creates these schemas too (IF NOT EXISTS); creating them here lets the grants and
-- default privileges exist before the first build, so every table dbt (re)creates as
-- this user is readable by the query role without a grant step in dbt.
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS intermediate;
CREATE SCHEMA IF NOT EXISTS marts;

GRANT USAGE ON SCHEMA staging, intermediate, marts TO telcopulse_query;
GRANT SELECT ON ALL TABLES IN SCHEMA staging, intermediate, marts TO telcopulse_query;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, intermediate, marts GRANT SELECT ON TABLES TO telcopulse_query;

-- raw (row-level source data) and ops (bookkeeping) stay unreadable by the query role.
REVOKE ALL ON SCHEMA raw, ops FROM PUBLIC;

-- Closed sessions, archived in one transaction before they leave Redis. Data values stay
-- Fernet tokens (encrypted at rest); metadata is plain JSON the server wrote.
CREATE TABLE ops.session_archive (
    session_id     TEXT PRIMARY KEY,
    user_id        TEXT,
    data_source    TEXT NOT NULL,
    access_level   TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_accessed  TIMESTAMPTZ,
    closed_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    metadata       JSONB NOT NULL DEFAULT '{}'::jsonb,
    data           JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX idx_session_archive_user_closed ON ops.session_archive (user_id, closed_at DESC);
