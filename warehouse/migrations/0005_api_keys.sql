-- API keys of the MCP HTTP transport. Only a salted scrypt hash of each key's secret is
-- stored (mcp_server/security/api_keys.py); the key itself is shown once at creation.
-- key_id is public: it names the key in logs and in `telcopulse keys list`.
CREATE TABLE ops.api_keys (
    key_id        TEXT PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{12}$'),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    salt          TEXT NOT NULL CHECK (salt ~ '^[0-9a-f]{32}$'),
    hash          TEXT NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ,
    expires_at    TIMESTAMPTZ,
    -- Written at most once a minute per key, so verification does not write per request.
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX idx_api_keys_name ON ops.api_keys (name);

-- Hashes are not secrets, but nothing but the owner needs them: ad-hoc SQL (the query
-- role) must never read this table, whatever default privileges a DBA has set on ops.
REVOKE ALL ON ops.api_keys FROM PUBLIC;
REVOKE ALL ON ops.api_keys FROM telcopulse_query;
