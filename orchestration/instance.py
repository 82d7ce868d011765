"""Prepare DAGSTER_HOME: Postgres storage when DAGSTER_PG_URL is set, SQLite otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

from warehouse.settings import PROJECT_ROOT

SQLITE_INSTANCE = """# Written by `telcopulse`: local SQLite storage (set DAGSTER_PG_URL for Postgres).
telemetry:
  enabled: false
# No "Join the community" pop-up over the first page a newcomer opens.
nux:
  enabled: false
"""


def psycopg2_url(url: str) -> str:
    """dagster-postgres needs the psycopg2 driver under SQLAlchemy 2.1 (see dagster.yaml)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def prepare_dagster_home(dagster_home: Path, *, use_postgres: bool) -> Path:
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    if use_postgres:
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", target)
    else:
        target.write_text(SQLITE_INSTANCE)
    return dagster_home
