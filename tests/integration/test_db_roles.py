"""Migration 0007 and `grant_login`: the MCP server's login can do its job and nothing more.

Roles are cluster-wide, so each test makes a uniquely named login and drops it afterwards
(before its database goes). This server trusts 127.0.0.1, so the login connects without a
password; the password path is checked on the stored verifier instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from telcopulse.db_cli import db_app
from warehouse.db import connect
from warehouse.roles import MCP_ROLE, RoleError, grant_login
from warehouse.settings import get_settings

pytestmark = pytest.mark.integration


def _memberships(conn: psycopg.Connection, role: str) -> set[str]:
    rows = conn.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        (role,),
    ).fetchall()
    return {row[0] for row in rows}


def _drop_role(url: str, role: str) -> None:
    with connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture()
def login_name(empty_database_url: str) -> Iterator[str]:
    """A unique login name; the role (if a test made it) is dropped before the database."""
    name = f"tp_test_login_{uuid.uuid4().hex[:10]}"
    yield name
    _drop_role(empty_database_url, name)


@pytest.fixture()
def warehouse(empty_database_url: str) -> str:
    """The migrated database with a mart table created afterwards, as dbt would."""
    with connect(empty_database_url) as conn:
        conn.execute("CREATE TABLE marts.t (id int PRIMARY KEY, label text)")
        conn.execute("INSERT INTO marts.t VALUES (1, 'one')")
        conn.execute(
            "INSERT INTO ops.api_keys (key_id, name, role, salt, hash)"
            " VALUES ('0123456789ab', 'bot', 'viewer', %s, %s)",
            ("0" * 32, "0" * 64),
        )
    return empty_database_url


def _as(url: str, login: str) -> psycopg.Connection:
    params = {k: v for k, v in conninfo_to_dict(url).items() if k != "password"}
    params["user"] = login
    return psycopg.connect(make_conninfo(**params), autocommit=True)


def test_migration_creates_the_group_role(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s",
            (MCP_ROLE,),
        ).fetchone()
        assert row == (False, False, False, False)
        assert _memberships(conn, MCP_ROLE) == {"telcopulse_query"}
        settings = conn.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
            " WHERE r.rolname = 'telcopulse_query' AND s.setdatabase = 0"
        ).fetchone()
        assert settings is not None and "default_transaction_read_only=on" in settings[0]
        raw_usage = conn.execute("SELECT has_schema_privilege(%s, 'raw', 'USAGE')", (MCP_ROLE,)).fetchone()
        assert raw_usage == (False,)


def test_the_login_can_do_the_servers_work(warehouse: str, login_name: str) -> None:
    grant_login(warehouse, login_name, None)
    with connect(warehouse) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolpassword IS NULL"
            " FROM pg_authid WHERE rolname = %s",
            (login_name,),
        ).fetchone()
        assert row == (True, False, False, False, True, True)
        assert _memberships(conn, login_name) == {MCP_ROLE}

    with _as(warehouse, login_name) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (login_name,)
        assert conn.execute("SELECT label FROM marts.t").fetchall() == [("one",)]
        conn.execute("SELECT max(finished_at) FROM ops.data_builds")
        conn.execute("SELECT max(load_id) FROM ops.raw_loads")
        conn.execute("INSERT INTO ops.audit_log (tool, outcome) VALUES ('query', 'ok')")
        conn.execute(
            "INSERT INTO ops.session_archive (session_id, data_source, access_level, created_at)"
            " VALUES ('s1', 'marts', 'read', now())"
            " ON CONFLICT (session_id) DO UPDATE SET closed_at = EXCLUDED.closed_at"
        )
        conn.execute("SELECT data FROM ops.session_archive WHERE session_id = 's1'")
        conn.execute(
            "INSERT INTO analytics.analysis_results (data_version, analysis_type, data_source, params_hash,"
            " result, row_count, duration_ms, computed_by) VALUES ('v', 'a', 'd', 'h', '{}', 0, 1, 'mcp')"
            " ON CONFLICT (data_version, analysis_type, data_source, params_hash) DO NOTHING"
        )
        conn.execute("SELECT result FROM analytics.analysis_results")
        conn.execute("SELECT key_id, hash FROM ops.api_keys")
        conn.execute("UPDATE ops.api_keys SET last_used_at = now() WHERE key_id = '0123456789ab'")
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SET LOCAL ROLE telcopulse_query")
            assert conn.execute("SELECT current_user, count(*) FROM marts.t").fetchone() == (
                "telcopulse_query",
                1,
            )
            with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
                conn.execute("SELECT * FROM ops.session_archive")  # the query role stays out of ops


FORBIDDEN = [
    "SELECT * FROM raw.customers",
    "INSERT INTO raw.customers (age) VALUES (30)",
    "INSERT INTO marts.t VALUES (2, 'two')",
    "UPDATE marts.t SET label = 'x'",
    "UPDATE ops.audit_log SET tool = 'x'",
    "DELETE FROM ops.audit_log",
    "SELECT * FROM ops.audit_log",
    "UPDATE ops.api_keys SET role = 'admin'",
    "DELETE FROM ops.api_keys",
    "UPDATE analytics.analysis_results SET row_count = 0",
    "DELETE FROM ops.session_archive",
    "INSERT INTO ops.data_builds (build_id, source) VALUES ('b', 'x')",
    "CREATE TABLE marts.evil (id int)",
    "CREATE TABLE ops.evil (id int)",
    "DROP TABLE marts.t",
    "DROP SCHEMA raw CASCADE",
    "ALTER TABLE ops.audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "SELECT * FROM ops.schema_migrations",
    "CREATE SCHEMA evil",
]


def test_the_login_cannot_do_anything_else(warehouse: str, login_name: str) -> None:
    grant_login(warehouse, login_name, None)
    allowed = []
    with _as(warehouse, login_name) as conn:
        for statement in FORBIDDEN:
            try:
                conn.execute(statement)
            except errors.InsufficientPrivilege as exc:
                # A privilege check, not the audit log's append-only trigger (same SQLSTATE).
                assert "append-only" not in str(exc), statement
            else:
                allowed.append(statement)
    assert allowed == []


def test_password_is_stored_as_a_scram_verifier_and_regrant_is_idempotent(
    empty_database_url: str, login_name: str
) -> None:
    password = "s3cret-' ; DROP ROLE postgres; --"
    grant_login(empty_database_url, login_name, password)
    with connect(empty_database_url) as conn:
        stored = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (login_name,)
        ).fetchone()
        assert stored is not None and stored[0].startswith("SCRAM-SHA-256$") and password not in stored[0]
        # An existing role with extra memberships is reset to telcopulse_mcp only.
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(login_name)))
        conn.commit()
    grant_login(empty_database_url, login_name, None)  # keeps the password
    with connect(empty_database_url) as conn:
        assert _memberships(conn, login_name) == {MCP_ROLE}
        again = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (login_name,)).fetchone()
        assert again == stored


def test_grant_login_refuses_privileged_or_reserved_names(empty_database_url: str) -> None:
    for name in ("postgres", MCP_ROLE, "telcopulse_query", "pg_monitor", "", "x" * 64):
        with pytest.raises(RoleError):
            grant_login(empty_database_url, name, None)


def test_db_grant_cli_reads_the_password_from_the_environment(
    empty_database_url: str, login_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("TP_TEST_DB_PASSWORD", "pa ss:w@rd")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(
            db_app, ["grant", "--login", login_name, "--password-env", "TP_TEST_DB_PASSWORD"]
        )
        assert result.exit_code == 0, result.output
        assert "pa ss:w@rd" not in result.output
        params = conninfo_to_dict(empty_database_url)
        where = f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{params['dbname']}"
        assert f"DATABASE_URL=postgresql://{login_name}:<password>@{where}" in result.output

        missing = runner.invoke(db_app, ["grant", "--login", login_name, "--password-env", "TP_UNSET_VAR_X"])
        assert missing.exit_code == 1 and "TP_UNSET_VAR_X is unset" in missing.output
    finally:
        get_settings.cache_clear()
    with connect(empty_database_url) as conn:
        assert _memberships(conn, login_name) == {MCP_ROLE}
