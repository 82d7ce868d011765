"""Compute a standard analysis on the warehouse and store it where the MCP server looks.

Runs after every mart build: results go to PostgreSQL (`analytics.analysis_results`, the
durable copy) and to the Redis analysis cache (TTL one hour), both keyed by the data
version the build just recorded, so `analyze_data` answers the common questions from cache.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from analyses.registry import run_analysis
from analyses.results import AnalysisResult
from warehouse.analysis_inputs import (
    RAW_TABLE_HAS_ROWS_SQL,
    REQUIRED_RAW_TABLES,
    STANDARD_INPUTS,
    empty_inputs,
)
from warehouse.analysis_store import (
    ANALYSIS_TTL_SECONDS,
    DATA_VERSION_SQL,
    UPSERT_RESULT_SQL,
    analysis_cache_key,
    params_hash,
)
from warehouse.db import connect
from warehouse.frames import rows_to_frame

WAREHOUSE_SOURCE = "warehouse"


@dataclass(frozen=True)
class Precomputed:
    result: AnalysisResult
    data_version: str
    row_count: int
    seconds: float
    cached_in_redis: bool


def missing_inputs(database_url: str, analysis_type: str) -> list[str]:
    """Raw tables the analysis needs that are still empty (a team that has imported only some).

    Checked before computing, so "no data yet" is told apart from a real failure on real rows.
    """
    with connect(database_url) as conn:
        has_rows = {
            table: bool(conn.execute(RAW_TABLE_HAS_ROWS_SQL[table]).fetchone()[0])
            for table in REQUIRED_RAW_TABLES[analysis_type]
        }
    return empty_inputs(analysis_type, has_rows)


def precompute(
    database_url: str, redis_url: str | None, analysis_type: str, parameters: dict[str, Any] | None = None
) -> Precomputed:
    parameters = parameters or {}
    started = time.perf_counter()
    with connect(database_url) as conn:
        data_version = str(conn.execute(DATA_VERSION_SQL).fetchone()[0])
        frames = {}
        for name, sql in STANDARD_INPUTS[analysis_type].items():
            cursor = conn.execute(sql)
            frames[name] = rows_to_frame(cursor.fetchall(), [d.name for d in cursor.description])
    result = run_analysis(analysis_type, frames, parameters)
    seconds = time.perf_counter() - started
    payload = result.model_dump(mode="json")
    row_count = len(next(iter(frames.values())))
    with connect(database_url) as conn:
        conn.execute(
            UPSERT_RESULT_SQL,
            {
                "data_version": data_version,
                "analysis_type": analysis_type,
                "data_source": WAREHOUSE_SOURCE,
                "params_hash": params_hash(parameters),
                "parameters": json.dumps(parameters),
                "result": json.dumps(payload),
                "row_count": row_count,
                "duration_ms": int(seconds * 1000),
                "computed_by": "dagster",
            },
        )
        conn.commit()
    cached = False
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        try:
            key = analysis_cache_key(database_url, data_version, analysis_type, WAREHOUSE_SOURCE, parameters)
            entry = {
                "result": payload,
                "row_count": row_count,
                "computed_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            client.set(key, json.dumps(entry), ex=ANALYSIS_TTL_SECONDS)
            cached = True
        finally:
            client.close()
    return Precomputed(
        result=result, data_version=data_version, row_count=row_count, seconds=seconds, cached_in_redis=cached
    )
