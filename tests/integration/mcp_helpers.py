"""Helpers for MCP tests: settings for a server against the shared pipeline warehouse, and a
checksum of everything an attack could change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from mcp_types import CallToolResult

from warehouse.db import connect
from warehouse.settings import Settings


def mcp_settings(database_url: str, redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "data_dir": data_dir,
        "fernet_keys": Fernet.generate_key().decode(),
        "db_pool_min": 1,
        "db_pool_max": 5,
    }
    values.update(overrides)
    return Settings(**values)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


_TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname IN ('raw', 'staging', 'intermediate', 'marts', 'ops', 'public')
ORDER BY 1, 2
"""


def database_fingerprint(url: str) -> dict[str, Any]:
    """Content checksums of every table, the server settings, roles, functions and sequences."""
    with connect(url) as conn:
        tables = conn.execute(_TABLES_SQL).fetchall()
        sums = {}
        for schema, name in tables:
            sums[f"{schema}.{name}"] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{schema}\".\"{name}\" t"
            ).fetchone()
        settings = conn.execute("SELECT name, setting FROM pg_settings ORDER BY name").fetchall()
        roles = conn.execute("SELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY 1").fetchall()
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
        sequences = conn.execute(
            "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
        ).fetchall()
        grants = conn.execute(
            "SELECT table_schema, table_name, grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema IN ('raw', 'staging', 'intermediate', 'marts', 'ops') ORDER BY 1, 2, 3, 4"
        ).fetchall()
    volatile = {"application_name", "transaction_read_only", "default_transaction_read_only"}
    return {
        "tables": sums,
        "settings": [s for s in settings if s[0] not in volatile],
        "roles": roles,
        "functions": functions,
        "sequences": sequences,
        "grants": grants,
    }
