"""One real pipeline run shared by the integration tests that read marts.

A small synthetic warehouse (a few hundred customers, 13 months) is loaded and every
asset materialized in-process by Dagster, which runs the real `dbt build`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.definitions import build_definitions
from orchestration.refresh import RefreshReport, refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from tests.integration.mcp_helpers import McpHttp, free_port, make_keys, running_server, server_env
from warehouse.db import temporary_database
from warehouse.migrate import migrate

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")
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


PEOPLE = {"ada": "admin", "alice": "analyst", "bob": "analyst", "victor": "viewer"}


@pytest.fixture(scope="session")
def mcp_http(
    pipeline: PipelineRun, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[McpHttp]:
    """`telcopulse serve --transport http` on the pipeline warehouse, with one API key per role."""
    data_dir = tmp_path_factory.mktemp("mcp-http")
    keys_file = data_dir / "api_keys.jsonl"
    keys, key_ids = make_keys(keys_file, PEOPLE)
    env = server_env(pipeline.database_url, redis_url, data_dir, TELCOPULSE_API_KEYS_FILE=str(keys_file))
    port = free_port()
    args = [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)]
    with running_server(args, env, f"http://127.0.0.1:{port}/healthz"):
        yield McpHttp(f"http://127.0.0.1:{port}/mcp", keys, key_ids, env, keys_file)
