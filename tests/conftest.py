"""Shared fixtures: every test run gets its own freshly created database, dropped afterwards.

The base server comes from DATABASE_URL (CI: the machine's PostgreSQL on 127.0.0.1:5432);
tests never touch the database named in it, only the one they create.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from warehouse.db import create_database, drop_database, with_database
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
    name = f"telcopulse_test_{uuid.uuid4().hex[:10]}"
    create_database(base_database_url, name)
    url = with_database(base_database_url, name)
    try:
        migrate(url)
        yield url
    finally:
        drop_database(base_database_url, name)


@pytest.fixture()
def empty_database_url(base_database_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test that must start empty or may wreck its data."""
    name = f"telcopulse_test_{uuid.uuid4().hex[:10]}"
    create_database(base_database_url, name)
    url = with_database(base_database_url, name)
    try:
        migrate(url)
        yield url
    finally:
        drop_database(base_database_url, name)
