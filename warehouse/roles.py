"""Login roles for the MCP server that hold only what migration 0007 grants to telcopulse_mcp.

Why: by default the server connects with the URL that migrated the warehouse, i.e. as the
owner of every table, so a bug or a compromised process could read raw customer rows,
rewrite the audit log or drop the marts. A login that is a member of telcopulse_mcp and
nothing else cannot. The privileges live on the NOLOGIN group role (created by the
migration in every database), so a login only needs membership plus CONNECT.

The password never reaches the server in clear text: it is hashed client-side into a
SCRAM-SHA-256 verifier (libpq's PQencryptPasswordConn, following the server's
password_encryption), so it cannot show up in the server log even with log_statement=ddl.
Utility statements take no bind parameters, hence psycopg.sql.Literal for the verifier and
psycopg.sql.Identifier for every name.
"""

from __future__ import annotations

import logging

from psycopg import sql

from warehouse.db import connect

log = logging.getLogger(__name__)

MCP_ROLE = "telcopulse_mcp"
QUERY_ROLE = "telcopulse_query"
# Roles a login must never be made from: the group roles themselves.
_PROTECTED = frozenset({MCP_ROLE, QUERY_ROLE})
_MAX_IDENTIFIER_BYTES = 63
_ATTRIBUTES = sql.SQL("LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")


class RoleError(RuntimeError):
    """The login cannot be created as asked (bad name, or it would demote/alter a privileged role)."""


def check_login_name(login: str) -> str:
    """Refuse names PostgreSQL would truncate or reserves, before touching the cluster."""
    if not login or not login.strip() or login != login.strip():
        raise RoleError("the login name must be non-empty and have no surrounding spaces")
    if "\x00" in login or len(login.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
        raise RoleError(f"the login name must be at most {_MAX_IDENTIFIER_BYTES} bytes, without NUL")
    if login.lower().startswith("pg_"):
        raise RoleError("role names starting with pg_ are reserved by PostgreSQL")
    if login in _PROTECTED:
        raise RoleError(f"{login} is a group role of the warehouse; choose a separate login name")
    return login


def grant_login(database_url: str, login: str, password: str | None) -> None:
    """Create (or reset) LOGIN role `login` as a member of telcopulse_mcp only.

    An existing role is altered to the same attributes and loses every other role
    membership, so re-running is idempotent and the result is least privilege whatever
    it was before. `password=None` sets none on a new role and keeps an existing one's
    (for trust, peer or certificate authentication). The caller's own role and
    superusers are refused: turning them into the server's login would lock a DBA out.
    Needs a connection allowed to create roles (superuser or CREATEROLE).
    """
    check_login_name(login)
    if password is not None and not password:
        raise RoleError("the password is empty; pass None to set no password")
    name = sql.Identifier(login)
    with connect(database_url) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
        assert row is not None  # a SELECT without FROM always returns one row
        me, database = row
        if login == me:
            raise RoleError(f"{login} is the role this command connects as; choose a separate login name")
        existing = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        if existing is not None and existing[0]:
            raise RoleError(f"{login} is a superuser; refusing to turn it into the MCP server's login")
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (MCP_ROLE,)).fetchone() is None:
            raise RoleError(f"role {MCP_ROLE} does not exist; migrate the warehouse first")

        statement = sql.SQL("ALTER ROLE {} WITH " if existing else "CREATE ROLE {} WITH ").format(name)
        statement += _ATTRIBUTES
        if password is not None:
            verifier = conn.pgconn.encrypt_password(password.encode("utf-8"), login.encode("utf-8"))
            statement += sql.SQL(" PASSWORD {}").format(sql.Literal(verifier.decode("ascii")))
        conn.execute(statement)

        others = [
            row[0]
            for row in conn.execute(
                "SELECT g.rolname FROM pg_auth_members m"
                " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
                " WHERE u.rolname = %s AND g.rolname <> %s ORDER BY 1",
                (login, MCP_ROLE),
            )
        ]
        for group in others:
            log.warning("revoking membership of %s in %s: the MCP login gets %s only", login, group, MCP_ROLE)
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), name))
        is_member = conn.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = %s AND u.rolname = %s",
            (MCP_ROLE, login),
        ).fetchone()
        if is_member is None:
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(MCP_ROLE), name))
        # PUBLIC usually has CONNECT already; explicit, in case a DBA revoked it.
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), name))
