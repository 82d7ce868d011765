"""Shared fixtures: every test run gets its own freshly created database, dropped afterwards.

The base server comes from DATABASE_URL (CI: the machine's PostgreSQL on 127.0.0.1:5432);
tests never touch the database named in it, only the one they create.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from warehouse.db import temporary_database
from warehouse.migrate import migrate

DEFAULT_BASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def base_database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_BASE_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


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
