"""`analyze_data` behind the tool: find the input, answer from cache, or compute off the loop.

Inputs: "warehouse" (the standard frames of each analysis, the same SQL the Dagster
precompute runs, so its results are cache hits here), one mart by name (its rows become
the analysis' primary frame), or a session id whose data key holds rows the agent saved
or brought. Warehouse and mart results go through `warehouse.analysis_store`, the store
the precompute writes with: cached by data version in Redis (1 h) and kept in
`analytics.analysis_results`. Session data is the agent's own and is never cached.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from redis.exceptions import RedisError

from analyses.charts import ChartError, to_frame
from analyses.registry import run_analysis
from analyses.results import AnalysisError, AnalysisResult
from analyses.steps import stoppable
from mcp_server.context import AppContext
from mcp_server.dependencies import REDIS, redis_outage
from mcp_server.errors import InputValidationError, NoData
from mcp_server.freshness import Freshness
from mcp_server.observability.tracing import span
from mcp_server.security.session_access import authorize_session
from mcp_server.sessions.saved_table import table_data
from mcp_server.sessions.store import SESSION_ID_RE
from warehouse.analysis_inputs import (
    RAW_TABLE_HAS_ROWS_SQL,
    empty_inputs,
    marts_read,
    no_data_message,
    primary_frame,
    required_raw_tables,
    standard_inputs,
)
from warehouse.analysis_store import WAREHOUSE_SOURCE, AnalysisEntry, AnalysisKey, AsyncAnalysisStore
from warehouse.frames import rows_to_frame

logger = logging.getLogger(__name__)

MAX_INPUT_ROWS = 500_000
INPUT_TIMEOUT_S = 120

# (progress, total, message): `notifications/progress` for a caller that asked for it.
Progress = Callable[[float, float, str], Awaitable[None]]
STEPS = 4  # looking up the stored result, reading inputs, computing, done


async def _no_progress(_progress: float, _total: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class AnalysisAnswer:
    result: dict[str, Any]
    row_count: int
    computed_at: str
    cached: bool
    data_version: str | None


async def answer_freshness(
    app: AppContext, data_source: str, analysis_type: str, answer: AnalysisAnswer
) -> Freshness | None:
    """How fresh and well-checked the marts behind an answer are; None for session data (no mart read)."""
    if answer.data_version is None:
        return None
    read = marts_read(analysis_type) if data_source == WAREHOUSE_SOURCE else [data_source]
    return await app.freshness.for_marts(read)


async def _require_raw_rows(app: AppContext, analysis_type: str) -> None:
    """NoData naming the raw table to import when the analysis' inputs are still empty.

    A team that has imported only its customers gets "load raw.revenue" rather than a
    validation error about an empty frame it never asked for. One query, on cache misses only.
    """
    tables = required_raw_tables(analysis_type)
    probe = "SELECT " + ", ".join(f"({RAW_TABLE_HAS_ROWS_SQL[t]}) AS {t}" for t in tables)
    columns, records = await app.executor.fetch_all(probe, timeout_s=INPUT_TIMEOUT_S, max_rows=1)
    empty = empty_inputs(analysis_type, dict(zip(columns, records[0], strict=True)))
    if empty:
        raise NoData(
            no_data_message(analysis_type, empty),
            hint="after the import, refresh the marts (telcopulse refresh) and ask again",
        )


async def _load_standard(app: AppContext, analysis_type: str, progress: Progress) -> dict[str, pd.DataFrame]:
    await _require_raw_rows(app, analysis_type)
    inputs = standard_inputs(analysis_type)
    frames = {}
    for done, (name, sql) in enumerate(inputs.items(), start=1):
        frames[name] = await _frame(app, sql)
        # Between 1 (reading) and 2 (computing), strictly rising: progress must always grow.
        message = f"read input {name} ({done}/{len(inputs)}, {len(frames[name]):,} rows)"
        await progress(1 + done / (len(inputs) + 1), STEPS, message)
    return frames


async def _frame(app: AppContext, sql: str) -> pd.DataFrame:
    columns, records = await app.executor.fetch_all(sql, timeout_s=INPUT_TIMEOUT_S, max_rows=MAX_INPUT_ROWS)
    return await asyncio.to_thread(rows_to_frame, records, columns)


async def _load_mart(app: AppContext, analysis_type: str, mart: str) -> dict[str, pd.DataFrame]:
    # The name was checked against the live marts before it gets here.
    return {primary_frame(analysis_type): await _frame(app, f'SELECT * FROM marts."{mart}"')}


async def _load_session(
    app: AppContext, analysis_type: str, session_id: str, key: str | None
) -> dict[str, pd.DataFrame]:
    if not key:
        info = await app.sessions.get(session_id)
        raise InputValidationError(
            "analysing session data needs parameters.session_key: the data key that holds the rows",
            hint=f"keys in this session: {', '.join(info.data_keys) or 'none yet'}",
        )
    await authorize_session(app, session_id, write=False)
    value = table_data(await app.sessions.read(session_id, key))  # a save_as table: its rows only
    try:
        frame = await asyncio.to_thread(to_frame, value)
    except ChartError as exc:
        raise InputValidationError(f"session key {key!r} does not hold a table: {exc}") from None
    return {primary_frame(analysis_type): frame}


def _store(app: AppContext) -> AsyncAnalysisStore:
    """The result store over the server's own pool and Redis.

    The read is a lookup (a stall there means PostgreSQL is down); Redis failures are
    counted, not raised, since PostgreSQL holds every result too.
    """
    return AsyncAnalysisStore(
        app.settings.require_database_url(),
        app.redis,
        read_connection=lambda: app.postgres(lookup=True),
        write_connection=app.postgres,
        computed_by="mcp",
        on_redis_error=_redis_failed,
    )


def _redis_failed(exc: RedisError) -> None:
    REDIS.failed(redis_outage(exc) or type(exc).__name__)  # counted, not logged per call


async def analyze(
    app: AppContext,
    data_source: str,
    analysis_type: str,
    parameters: dict[str, Any],
    progress: Progress = _no_progress,
) -> AnalysisAnswer:
    """The answer, from the stored result when there is one; `progress` hears of each step."""
    parameters = dict(parameters)
    session_key = parameters.pop("session_key", None)
    is_session = bool(SESSION_ID_RE.fullmatch(data_source))
    version: str | None = None
    store: AsyncAnalysisStore | None = None
    key: AnalysisKey | None = None
    if not is_session:
        marts = await app.marts()
        if data_source != WAREHOUSE_SOURCE and data_source not in marts:
            raise InputValidationError(
                f"unknown data_source {data_source!r}",
                hint=f"use 'warehouse', a mart ({', '.join(sorted(marts))}) or a session_id with session_key",
            )
        version = await app.version.current()
        store = _store(app)
        key = store.key(version, analysis_type, data_source, parameters)
        await progress(0, STEPS, "looking up the stored result")
        hit, tier = await store.read_from(key)
        if app.metrics is not None:
            app.metrics.analysis_answer_seen(tier or "computed")
        if hit is not None:
            await progress(STEPS, STEPS, "answered from the stored result")
            return AnalysisAnswer(hit.result, hit.row_count, hit.computed_at, True, version)

    await progress(1, STEPS, "reading inputs")
    if is_session:
        frames = await _load_session(app, analysis_type, data_source, session_key)
    elif data_source == WAREHOUSE_SOURCE:
        frames = await _load_standard(app, analysis_type, progress)
    else:
        frames = await _load_mart(app, analysis_type, data_source)

    rows = len(next(iter(frames.values())))
    await progress(2, STEPS, f"computing {analysis_type} on {rows:,} rows")
    started = time.perf_counter()
    result = await _computed(analysis_type, frames, parameters)
    entry = AnalysisEntry.computed_now(result.model_dump(mode="json"), rows)
    await progress(3, STEPS, "storing the result")
    if store is not None and key is not None:
        await store.write(key, entry, duration_ms=int((time.perf_counter() - started) * 1000))
    await progress(STEPS, STEPS, "done")
    return AnalysisAnswer(entry.result, entry.row_count, entry.computed_at, False, version)


async def _computed(
    analysis_type: str, frames: dict[str, pd.DataFrame], parameters: dict[str, Any]
) -> AnalysisResult:
    """`run_analysis` in a worker thread that stops at its next step if this call is cancelled.

    The thread cannot be interrupted; when the awaiting call is cancelled (client gone,
    notifications/cancelled), the analysis sees the stop at its next `checkpoint()` and
    ends instead of computing a result nobody reads.
    """
    stop = threading.Event()
    try:
        with (
            span("analysis compute", **{"telcopulse.analysis": analysis_type}),
            stoppable(stop),  # to_thread copies this context, and the event with it
        ):
            return await asyncio.to_thread(run_analysis, analysis_type, frames, parameters)
    except AnalysisError as exc:
        raise InputValidationError(str(exc)) from None
    except asyncio.CancelledError:
        stop.set()
        raise
