"""Append-only audit trail of tool calls in `ops.audit_log` (migration 0006).

Why a table and not just logs: "which key ran which query shape, when, with what outcome"
is a question for a compliance review months later, across replicas; logs rotate and are
per process. Why buffered: a read call must never wait for (or fail because of) its own
audit row. `record()` only appends to memory; a background task writes batches with one
`COPY` (one round trip, atomic) per `batch_size` events, at least
every `flush_interval`. When the database is away, events stay buffered and are retried
with backoff, up to `max_buffer`; past that the oldest are dropped and counted, and the
warning says how many. What is buffered is lost if the process dies without `close()`
(`kill -9`, OOM kill): normally the last `flush_interval` (250 ms) or `batch_size` (50)
events, whichever fills first, plus a batch in flight; during an outage, all that is buffered.

Admin and write calls cannot accept that loss, so the server uses `write_now()` for them
(see `mcp_server.observability.tool_audit.audited_before_acting`): it writes everything
queued so far and then the event, and returns only once they are committed, or False.

Delivery is at-least-once: a batch whose commit lands just as the connection dies is
written again on retry. Rows are never updated, so a duplicate is visible, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import astuple, dataclass, fields
from functools import lru_cache
from typing import Any

import asyncpg

from mcp_server.observability.redact import mask_pii, redact_sql, redact_sql_fallback, shape_hash

__all__ = ["STARTED", "AuditEvent", "AuditLog", "outcome_of"]

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300
MAX_SHAPE_CHARS = 4000
MAX_TEXT_CHARS = 200
_INT32_MAX = 2**31 - 1
# `outcome` of the row an admin or write call gets before it acts (see tool_audit.py).
STARTED = "started"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One tool call as the audit log keeps it. No arguments, no values: shapes and names only.

    `outcome` is `ok` or the error's name (`QueryError`, `Forbidden`, `RateLimited`,
    `AuthError`, ...); `error` is its message, masked and shortened when recorded;
    `query_shape`/`query_hash` come from `AuditLog.shape_of(sql)`.
    """

    tool: str
    outcome: str = "ok"
    key_id: str | None = None
    principal: str | None = None
    role: str | None = None
    transport: str | None = None
    error: str | None = None
    query_shape: str | None = None
    query_hash: str | None = None
    data_source: str | None = None
    rows: int | None = None
    duration_ms: int | None = None
    session_id: str | None = None


COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(AuditEvent))
_INSERT = (
    f"INSERT INTO ops.audit_log ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 1))})"
)
_INT_COLUMNS = frozenset({"rows", "duration_ms"})
Row = tuple[Any, ...]


def outcome_of(error: BaseException | None) -> str:
    """`ok`, or the error class name: what the `outcome` column holds."""
    return "ok" if error is None else type(error).__name__


def _text(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "")  # PostgreSQL text cannot hold NUL
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: object) -> int | None:
    if value is None:
        return None
    try:
        return max(-_INT32_MAX, min(_INT32_MAX, int(value)))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=4096)
def _redacted_shape(shape: str) -> str:
    """`redact_sql_fallback` of a query shape; shapes repeat, so each is redacted once."""
    return redact_sql_fallback(shape)


def _row(event: AuditEvent) -> Row:
    """The event as a row that cannot fail a constraint: masked, bounded, NUL-free.

    A row the database rejects would poison its whole batch, so every value is made
    storable here, once, when the event is recorded.
    """
    values = dict(zip(COLUMNS, astuple(event), strict=True))
    shape = values["query_shape"]
    if shape is not None:
        # Defence in depth: a raw query passed by mistake still loses its literals
        # (idempotent on real shapes, and regex-cheap).
        shape = _redacted_shape(str(shape))
        values["query_hash"] = values["query_hash"] or shape_hash(shape)
        values["query_shape"] = shape
    values["error"] = mask_pii(str(values["error"])) if values["error"] is not None else None
    values["tool"] = values["tool"] or "unknown"
    values["outcome"] = values["outcome"] or "ok"
    row = []
    for name in COLUMNS:
        value = values[name]
        if name in _INT_COLUMNS:
            row.append(_int(value))
        elif name == "query_shape":
            row.append(_text(value, MAX_SHAPE_CHARS))
        elif name == "error":
            row.append(_text(value, MAX_ERROR_CHARS))
        else:
            row.append(_text(value, MAX_TEXT_CHARS))
    return tuple(row)


def _is_data_error(error: BaseException) -> bool:
    """A rejection of the rows themselves (SQLSTATE classes 22, 23): retrying cannot help."""
    state = getattr(error, "sqlstate", None) or ""
    return isinstance(error, asyncpg.PostgresError) and state[:2] in ("22", "23")


class AuditLog:
    """Buffered, batched writer of `AuditEvent`s to `ops.audit_log` that never fails a caller.

    Lifecycle: `start()` once inside the event loop, `await record(event)` per tool call,
    `await close()` at shutdown (flushes what is left, within `close_timeout`).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        batch_size: int = 50,
        flush_interval: float = 0.25,
        max_buffer: int = 10_000,
        write_timeout: float = 5.0,
        max_backoff: float = 30.0,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size:
            raise ValueError("need 1 <= batch_size <= max_buffer")
        self._pool = pool
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.write_timeout = write_timeout
        self.max_backoff = max_backoff
        self._buffer: deque[Row] = deque()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failures = 0  # consecutive failed writes: drives the retry backoff
        self.written = 0
        self.dropped = 0

    # ----------------------------------------------------------------- public API

    @staticmethod
    def shape_of(sql: str) -> tuple[str, str]:
        """(query_shape, query_hash) of `sql` for an AuditEvent: one parse for both."""
        shape = redact_sql(sql)
        return shape, shape_hash(shape)

    @property
    def pending(self) -> int:
        """Events recorded but not yet written (kept across failed writes)."""
        return len(self._buffer)

    def start(self) -> None:
        """Start the background writer; needs a running event loop. Idempotent."""
        if self._task is None or self._task.done():
            self._closed = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-log-writer")

    async def record(self, event: AuditEvent) -> None:
        """Queue `event`; returns at once and never raises (auditing must not fail a tool call)."""
        self.record_nowait(event)

    def record_nowait(self, event: AuditEvent) -> None:
        """`record` for code outside a coroutine (a loop callback)."""
        try:
            if self._closed:
                self.dropped += 1
                logger.warning("audit log closed: event for tool %s dropped", event.tool)
                return
            self._buffer.append(_row(event))
            self._enforce_cap()
            if len(self._buffer) >= self.batch_size:
                self._wake.set()
        except Exception as exc:
            self.dropped += 1
            logger.warning("audit event could not be queued: %s", mask_pii(repr(exc)))

    async def flush(self) -> int:
        """Write the events queued so far, in batches; return how many were written.

        Stops at the first failed batch, which goes back to the front of the queue; never
        raises (cancellation aside, which also requeues). Events recorded while flushing
        wait for the next round.
        """
        async with self._lock:
            written, _ = await self._flush_locked()
            return written

    async def write_now(self, event: AuditEvent, *, queue_on_failure: bool = False) -> bool:
        """Write what is queued, then `event`; True once `event` is committed. Never raises.

        For calls that must not go unaudited: the caller acts (or answers) only after True.
        Queued events go first so the table keeps call order. False when the database cannot
        take the rows within about `2 * write_timeout`, or the log is closed; `event` is then
        dropped, or queued for the background writer with `queue_on_failure`.
        """
        try:
            row = _row(event)
        except Exception as exc:
            logger.warning("audit event could not be built: %s", mask_pii(repr(exc))[:MAX_ERROR_CHARS])
            return False
        stored: int | None = None
        if not self._closed:
            try:
                async with asyncio.timeout(2 * self.write_timeout), self._lock:
                    _, complete = await self._flush_locked()
                    if complete:  # else the database just failed the older rows: do not wait twice
                        stored = await self._write_batch([row])
            except TimeoutError:
                logger.warning("audit write of a %s call timed out", event.tool)
            except asyncio.CancelledError:  # the caller gave up waiting: keep the row if asked
                if queue_on_failure and stored is None:
                    self._queue(row)
                raise
            except Exception as exc:  # _write_batch catches write errors; this is a bug guard
                logger.warning("audit writer error: %s", mask_pii(repr(exc))[:MAX_ERROR_CHARS])
        if stored == 1:
            self.written += 1
            return True
        if queue_on_failure and stored is None:  # stored == 0: rejected by the database, dropped
            self._queue(row)
        return False

    async def close(self, close_timeout: float = 10.0) -> None:
        """Stop the writer and flush the rest; whatever cannot be written in time is reported lost."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_all(), close_timeout)
        if self._buffer:
            logger.warning(
                "audit log closed with %d events unwritten (database unavailable); they are lost",
                len(self._buffer),
            )
            self.dropped += len(self._buffer)
            self._buffer.clear()

    # ----------------------------------------------------------------- internals

    def _queue(self, row: Row) -> None:
        if self._closed:
            self.dropped += 1
            logger.warning("audit log closed: event for tool %s dropped", row[0])
            return
        self._buffer.append(row)
        self._enforce_cap()

    async def _flush_locked(self) -> tuple[int, bool]:
        """(rows written, whether every batch queued at the start went through)."""
        remaining = len(self._buffer)
        written = 0
        while remaining > 0 and self._buffer:
            size = min(self.batch_size, remaining, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(size)]
            try:
                stored = await self._write_batch(batch)
            except BaseException:  # cancelled mid-write (close, timeout): keep the batch
                self._requeue(batch)
                raise
            if stored is None:
                self._requeue(batch)
                self.written += written
                return written, False
            remaining -= size
            written += stored
        self.written += written
        return written, True

    async def _flush_all(self) -> None:
        while self._buffer:
            before = len(self._buffer)
            await self.flush()
            if len(self._buffer) >= before:
                return  # no progress: the database is away

    def _requeue(self, batch: list[Row]) -> None:
        self._buffer.extendleft(reversed(batch))
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        overflow = len(self._buffer) - self.max_buffer
        if overflow <= 0:
            return
        first_drop = self.dropped == 0
        for _ in range(overflow):
            self._buffer.popleft()
        self.dropped += overflow
        if first_drop:
            logger.warning(
                "audit buffer full (%d events): dropping the oldest; see later warnings for the count",
                self.max_buffer,
            )

    async def _write_batch(self, batch: list[Row]) -> int | None:
        """Insert `batch` in one atomic COPY (a fraction of executemany's CPU per row).

        Returns the rows stored (the batch is done with), or None: keep it and retry later.
        """
        try:
            async with self._pool.acquire(timeout=self.write_timeout) as conn:
                await conn.copy_records_to_table(
                    "audit_log", schema_name="ops", columns=COLUMNS, records=batch, timeout=self.write_timeout
                )
        except Exception as exc:
            if _is_data_error(exc):
                return await self._write_one_by_one(batch)
            self._failures += 1
            logger.warning(
                "audit write failed (%s); %d events kept for retry, %d dropped so far",
                mask_pii(f"{type(exc).__name__}: {exc}")[:MAX_ERROR_CHARS],
                len(self._buffer) + len(batch),
                self.dropped,
                extra={"outcome": type(exc).__name__},
            )
            return None
        if self._failures:
            logger.info("audit writes recovered after %d failed attempts", self._failures)
            self._failures = 0
        return len(batch)

    async def _write_one_by_one(self, batch: list[Row]) -> int:
        """Rare path: the database rejected a value. Keep the good rows, drop only the bad."""
        stored = 0
        try:
            async with self._pool.acquire(timeout=self.write_timeout) as conn:
                for row in batch:
                    try:
                        await conn.execute(_INSERT, *row, timeout=self.write_timeout)
                        stored += 1
                    except asyncpg.PostgresError as exc:
                        if not _is_data_error(exc):
                            raise
                        self.dropped += 1
                        logger.warning(
                            "audit event for tool %s rejected by the database (%s); dropped",
                            row[0],
                            type(exc).__name__,
                        )
        except Exception as exc:
            # Part of the batch may be in already; retrying all of it would duplicate those,
            # so this (doubly rare) case drops the rest instead.
            lost = len(batch) - stored
            self.dropped += lost
            logger.warning("audit row-by-row write failed (%s); %d events dropped", type(exc).__name__, lost)
        return stored

    async def _run(self) -> None:
        """Flush every `flush_interval`, or as soon as a batch is full; back off while failing."""
        while True:
            if self._failures:
                delay = min(self.max_backoff, self.flush_interval * 2 ** min(self._failures, 16))
                await asyncio.sleep(delay)  # a full batch does not cut a backoff short
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            if self._buffer:
                try:
                    await self.flush()
                except Exception as exc:  # flush catches write errors; this is a bug guard
                    logger.warning("audit writer error: %s", mask_pii(repr(exc))[:MAX_ERROR_CHARS])
