"""Connection factories. Callers pass the URL; nothing connects at import time."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """Open a psycopg connection that is closed (and rolled back on error) on exit."""
    with psycopg.connect(url, autocommit=autocommit) as conn:
        yield conn


def with_database(url: str, dbname: str) -> str:
    """Same server and credentials as `url`, another database (for create/drop of test DBs)."""
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url).get("dbname") or "postgres")


def create_database(url: str, dbname: str) -> None:
    """Create `dbname` on the server of `url` unless it exists."""
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname)))


def drop_database(url: str, dbname: str) -> None:
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(dbname))
        )


def as_url(conninfo: str) -> str:
    """A `postgresql://` URL for any libpq connection string (asyncpg accepts only URLs).

    Key/value strings (`host=... dbname=...`) come from `with_database`; a unix-socket host
    (embedded PostgreSQL) goes into the query string, as libpq and asyncpg both read it there.
    """
    scheme, sep, _rest = conninfo.partition("://")
    if sep:
        return f"{scheme.split('+')[0]}://{_rest}"
    params = conninfo_to_dict(conninfo)
    user = quote(str(params.pop("user", "") or ""), safe="")
    password = quote(str(params.pop("password", "") or ""), safe="")
    host = str(params.pop("host", "") or "")
    port = str(params.pop("port", "") or "")
    dbname = quote(str(params.pop("dbname", "") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    if host.startswith("/"):
        params["host"] = host
        netloc = credentials.rstrip("@") + "@" if credentials else ""
        location = netloc + (f":{port}" if port else "")
    else:
        location = credentials + host + (f":{port}" if port else "")
    query = urlencode({k: str(v) for k, v in params.items() if v is not None})
    return f"postgresql://{location}/{dbname}" + (f"?{query}" if query else "")


def warehouse_id(url: str) -> str:
    """Short stable id of a warehouse (server + database, no credentials) for shared-Redis namespaces.

    Two warehouses may share one Redis (tests do); their data versions could coincide, so
    cache keys carry this id too.
    """
    params = conninfo_to_dict(as_url(url))
    identity = f"{params.get('host') or ''}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def dbt_connection_env(url: str, *, threads: int = 2) -> dict[str, str]:
    """Connection variables that dbt_project/profiles.yml reads with env_var().

    dbt cannot take a URL, so the URL is split here, once. A unix-socket host
    (embedded PostgreSQL) is passed through as a directory path, which libpq accepts.
    """
    parts = conninfo_to_dict(url)
    return {
        "DBT_PG_HOST": str(parts.get("host") or "127.0.0.1"),
        "DBT_PG_PORT": str(parts.get("port") or "5432"),
        "DBT_PG_USER": str(parts.get("user") or "postgres"),
        "DBT_PG_PASSWORD": str(parts.get("password") or ""),
        "DBT_PG_DBNAME": str(parts.get("dbname") or "postgres"),
        "DBT_THREADS": str(threads),
    }


@contextmanager
def temporary_database(base_url: str, prefix: str = "telcopulse_tmp") -> Iterator[str]:
    """A new, empty database on the server of `base_url`, dropped on exit (tests, benchmarks)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    create_database(base_url, name)
    try:
        yield with_database(base_url, name)
    finally:
        drop_database(base_url, name)


def redacted_url(url: str) -> str:
    """The URL with any password replaced by `***`, for output a person or a log sees."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    userinfo = f"{parts.username or ''}:***"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))
