"""Compute a standard analysis on the warehouse and store it where the MCP server looks.

Runs after every mart build: the result goes through `warehouse.analysis_store` (the same
store `analyze_data` reads) to PostgreSQL (`analytics.analysis_results`, the durable copy)
and to the Redis analysis cache (TTL one hour), keyed by the data version the build just
recorded, so `analyze_data` answers the common questions from cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from analyses.registry import run_analysis
from analyses.results import AnalysisResult
from warehouse.analysis_inputs import (
    RAW_TABLE_HAS_ROWS_SQL,
    empty_inputs,
    required_raw_tables,
    standard_inputs,
)
from warehouse.analysis_store import (
    DATA_VERSION_SQL,
    WAREHOUSE_SOURCE,
    AnalysisEntry,
    SyncAnalysisStore,
)
from warehouse.db import connect
from warehouse.frames import rows_to_frame


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
            for table in required_raw_tables(analysis_type)
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
        for name, sql in standard_inputs(analysis_type).items():
            cursor = conn.execute(sql)
            frames[name] = rows_to_frame(cursor.fetchall(), [d.name for d in cursor.description])
    result = run_analysis(analysis_type, frames, parameters)
    seconds = time.perf_counter() - started
    entry = AnalysisEntry.computed_now(result.model_dump(mode="json"), len(next(iter(frames.values()))))
    store = SyncAnalysisStore(database_url, redis_url, computed_by="dagster")
    key = store.key(data_version, analysis_type, WAREHOUSE_SOURCE, parameters)
    store.write(key, entry, duration_ms=int(seconds * 1000))
    return Precomputed(
        result=result,
        data_version=data_version,
        row_count=entry.row_count,
        seconds=seconds,
        cached_in_redis=store.caches,
    )
