"""Settings: names of the environment variables, derived dbt connection, clear errors."""

from __future__ import annotations

import pytest

from orchestration.instance import psycopg2_url
from warehouse.settings import Settings


def test_reads_standard_and_prefixed_variables(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db.example:6543/wh")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("TELCOPULSE_CUSTOMERS", "1234")
    monkeypatch.setenv("TELCOPULSE_DAGSTER_PORT", "3100")
    settings = Settings()
    assert settings.database_url == "postgresql://u:pw@db.example:6543/wh"
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.customers == 1234
    assert settings.dagster_port == 3100


def test_dbt_env_splits_the_url() -> None:
    env = Settings(database_url="postgresql://u:pw@db.example:6543/wh", dbt_threads=4).dbt_env()
    assert env == {
        "DBT_PG_HOST": "db.example",
        "DBT_PG_PORT": "6543",
        "DBT_PG_USER": "u",
        "DBT_PG_PASSWORD": "pw",
        "DBT_PG_DBNAME": "wh",
        "DBT_THREADS": "4",
    }


def test_dbt_env_passes_a_unix_socket_directory() -> None:
    env = Settings(database_url="postgresql://postgres:@/telcopulse?host=/srv/pg").dbt_env()
    assert env["DBT_PG_HOST"] == "/srv/pg"
    assert env["DBT_PG_DBNAME"] == "telcopulse"


def test_missing_database_url_says_how_to_fix_it(monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="make up"):
        Settings().require_database_url()


def test_invalid_values_are_rejected(monkeypatch) -> None:
    monkeypatch.setenv("TELCOPULSE_CUSTOMERS", "0")
    with pytest.raises(ValueError, match="customers"):
        Settings()


def test_dagster_storage_url_uses_psycopg2() -> None:
    assert psycopg2_url("postgresql://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert psycopg2_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert psycopg2_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
