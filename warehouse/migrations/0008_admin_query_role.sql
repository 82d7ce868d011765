-- Admins may read the raw schema through query_database (the seed's Admin "raw schemas");
-- everyone else's ad-hoc SQL keeps running as telcopulse_query, which cannot.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'telcopulse_query_admin') THEN
        CREATE ROLE telcopulse_query_admin NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- Everything the analyst query role reads, plus raw (read-only, like the rest).
GRANT telcopulse_query TO telcopulse_query_admin;
GRANT USAGE ON SCHEMA raw TO telcopulse_query_admin;
GRANT SELECT ON ALL TABLES IN SCHEMA raw TO telcopulse_query_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT ON TABLES TO telcopulse_query_admin;

-- The server switches to it with SET LOCAL ROLE, so the migrating user must be a member.
-- The least-privilege server role (telcopulse_mcp, 0007) is deliberately NOT: in
-- PostgreSQL 15 membership means inheritance, and the server's own connection must not
-- read raw. A deployment that wants admin raw reads through that login grants
-- telcopulse_query_admin to it explicitly (docs/security.md).
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT telcopulse_query_admin TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN
    RAISE WARNING 'could not grant telcopulse_query_admin to %: admin raw reads will fail', current_user;
END $$;
