"""One real pipeline run shared by the integration tests that read marts.

A small synthetic warehouse (a few hundred customers, 13 months) is loaded and every
asset materialized in-process by Dagster, which runs the real `dbt build`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from orchestration.definitions import build_definitions
from orchestration.refresh import RefreshReport, refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from warehouse.db import temporary_database
from warehouse.migrate import migrate

PIPELINE_CUSTOMERS = 800
PIPELINE_SEED = 7
PIPELINE_END_DATE = dt.date(2026, 10, 31)


def raw_run_config(**config: object) -> dict:
    return {"ops": {"raw_tables": {"config": config}}}


@dataclass
class PipelineRun:
    database_url: str
    report: RefreshReport


@pytest.fixture(scope="session")
def pipeline(base_database_url: str, redis_url: str) -> Iterator[PipelineRun]:
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        defs = build_definitions(WarehouseResource(database_url=url), RedisResource(redis_url=redis_url))
        report = refresh_all(
            defs,
            run_config=raw_run_config(
                customers=PIPELINE_CUSTOMERS, seed=PIPELINE_SEED, end_date=PIPELINE_END_DATE.isoformat()
            ),
        )
        yield PipelineRun(database_url=url, report=report)
