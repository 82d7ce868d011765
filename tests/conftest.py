"""Shared fixtures: every test run gets its own freshly created database, dropped afterwards.

The base server comes from DATABASE_URL (CI: the machine's PostgreSQL on 127.0.0.1:5432);
tests never touch the database named in it, only the one they create.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import psycopg.rows
import pytest
import redis
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from mcp_server.security.function_policy import CATALOG_SQL, FunctionPolicy
from warehouse.db import temporary_database
from warehouse.migrate import migrate

DEFAULT_BASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def base_database_url() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_BASE_URL
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.OperationalError:
        pytest.exit(
            f"PostgreSQL is not reachable at {_without_password(url)}. The tests need a running server: "
            "`.ci/run` starts this machine's PostgreSQL and Redis and then runs `make test`, or point "
            "DATABASE_URL at a server whose user may create databases.",
            returncode=3,
        )
    return url


@pytest.fixture(scope="session")
def function_policy(base_database_url: str) -> FunctionPolicy:
    """The function allow list the server would build from this PostgreSQL's catalog."""
    with psycopg.connect(base_database_url, row_factory=psycopg.rows.dict_row) as conn:
        return FunctionPolicy.from_catalog(conn.execute(CATALOG_SQL).fetchall())


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.exit(
            f"Redis is not reachable at {url}. `.ci/run` starts this machine's PostgreSQL and Redis and "
            "then runs `make test`, or point REDIS_URL at a running Redis.",
            returncode=3,
        )
    finally:
        client.close()
    return url


def _without_password(url: str) -> str:
    params = conninfo_to_dict(url)
    params.pop("password", None)
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def run_database_url(base_database_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test run; dropped at the end."""
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        yield url


@pytest.fixture()
def empty_database_url(base_database_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test that must start empty or may wreck its data."""
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        yield url
