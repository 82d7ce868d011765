"""ops.audit_log and AuditLog against real PostgreSQL: batching, append-only, outages.

Each test gets its own freshly migrated database (`empty_database_url`), so row counts are
exact. Outages are simulated with a pool proxy that fails, or hangs, on acquire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from mcp_server.observability.audit import AuditEvent, AuditLog, outcome_of
from warehouse.db import as_url

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

SECRET_DSN = "postgresql://app:s3cr3t-pw@db.internal:5432/tp"


@pytest_asyncio.fixture(loop_scope="session")
async def pool(empty_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(as_url(empty_database_url), min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


class _FailingAcquire:
    async def __aenter__(self) -> Any:
        raise ConnectionRefusedError(f"could not connect to {SECRET_DSN}")

    async def __aexit__(self, *exc: object) -> bool:
        return False


class _HangingAcquire:
    async def __aenter__(self) -> Any:
        await asyncio.Event().wait()  # never set: a database that does not answer

    async def __aexit__(self, *exc: object) -> bool:
        return False


class ProxyPool:
    """A pool that counts acquires (one per written batch) and can be taken down."""

    def __init__(self, pool: asyncpg.Pool | None) -> None:
        self.pool = pool
        self.mode = "up"
        self.acquires = 0

    def acquire(self, *, timeout: float | None = None) -> Any:
        self.acquires += 1
        if self.mode == "down" or self.pool is None:
            return _FailingAcquire()
        if self.mode == "hang":
            return _HangingAcquire()
        return self.pool.acquire(timeout=timeout)


def event(i: int, **overrides: Any) -> AuditEvent:
    shape, digest = AuditLog.shape_of(f"SELECT * FROM marts.customer_360 WHERE customer_id = {i}")
    values: dict[str, Any] = {
        "tool": "query_database",
        "outcome": "ok",
        "key_id": "0123456789ab",
        "principal": "analyst-1",
        "role": "analyst",
        "transport": "http",
        "query_shape": shape,
        "query_hash": digest,
        "data_source": "warehouse",
        "rows": i,
        "duration_ms": 3,
        "session_id": f"{i:032x}",
    }
    values.update(overrides)
    return AuditEvent(**values)


async def count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM ops.audit_log")


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_all_events_written_after_close(pool: asyncpg.Pool) -> None:
    audit = AuditLog(pool, batch_size=50, flush_interval=0.05)
    audit.start()
    for i in range(120):
        await audit.record(event(i))
    await audit.close()
    assert await count(pool) == 120
    assert audit.written == 120 and audit.pending == 0 and audit.dropped == 0
    row = await pool.fetchrow("SELECT * FROM ops.audit_log WHERE rows = 7")
    assert row["tool"] == "query_database"
    assert row["query_shape"] == "SELECT * FROM marts.customer_360 WHERE customer_id = ?"
    assert row["query_hash"] == AuditLog.shape_of("SELECT * FROM marts.customer_360 WHERE customer_id = 1")[1]
    assert row["at"] is not None and row["id"] is not None
    assert await pool.fetchval("SELECT count(DISTINCT query_hash) FROM ops.audit_log") == 1


async def test_flush_is_batched(pool: asyncpg.Pool) -> None:
    proxy = ProxyPool(pool)
    audit = AuditLog(proxy, batch_size=50, flush_interval=60)  # type: ignore[arg-type]
    for i in range(120):
        await audit.record(event(i))
    assert proxy.acquires == 0  # record() never touches the database
    assert await audit.flush() == 120
    assert proxy.acquires == 3  # 50 + 50 + 20: one executemany per batch
    assert await count(pool) == 120


async def test_background_writer_flushes_full_batches_without_waiting(pool: asyncpg.Pool) -> None:
    audit = AuditLog(pool, batch_size=10, flush_interval=60)
    audit.start()
    try:
        for i in range(10):
            await audit.record(event(i))
        await wait_until(lambda: audit.pending == 0)
        assert await count(pool) == 10
    finally:
        await audit.close()


async def test_error_is_masked_and_shortened(pool: asyncpg.Pool) -> None:
    audit = AuditLog(pool)
    error = ValueError(f"no customer jane.doe@example.com with key tp_0123456789ab_{'s' * 43} " + "x" * 1000)
    await audit.record(
        event(
            1,
            outcome=outcome_of(error),
            error=str(error),
            # a raw query passed by mistake still loses its literals
            query_shape="SELECT * FROM t WHERE email = 'jane.doe@example.com'",
            query_hash=None,
            principal="nul\x00byte",
        )
    )
    await audit.close()
    row = await pool.fetchrow("SELECT * FROM ops.audit_log")
    assert row["outcome"] == "ValueError"
    assert "jane.doe" not in row["error"] and "j***@example.com" in row["error"]
    assert "tp_0123456789ab_***" in row["error"]
    assert len(row["error"]) <= 300
    assert row["query_shape"] == "SELECT * FROM t WHERE email = '?'"
    assert len(row["query_hash"]) == 16
    assert row["principal"] == "nulbyte"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ops.audit_log SET outcome = 'ok'",
        "UPDATE ops.audit_log SET outcome = 'ok' WHERE id < 0",  # even with no row matched
        "DELETE FROM ops.audit_log",
        "DELETE FROM ops.audit_log WHERE id < 0",
        "TRUNCATE ops.audit_log",
    ],
)
async def test_audit_log_is_append_only(pool: asyncpg.Pool, statement: str) -> None:
    audit = AuditLog(pool)
    await audit.record(event(1, outcome="QueryError", error="column x does not exist"))
    await audit.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute(statement)
    assert await count(pool) == 1
    assert await pool.fetchval("SELECT outcome FROM ops.audit_log") == "QueryError"


async def test_query_role_cannot_read_the_audit_log(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE telcopulse_query")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM ops.audit_log")


async def test_outage_never_raises_and_events_are_kept_for_retry(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = ProxyPool(pool)
    proxy.mode = "down"
    audit = AuditLog(proxy, batch_size=10, flush_interval=0.02, max_backoff=0.05)  # type: ignore[arg-type]
    audit.start()
    try:
        with caplog.at_level(logging.WARNING, logger="mcp_server.observability.audit"):
            started = time.monotonic()
            for i in range(30):
                await audit.record(event(i))
            assert time.monotonic() - started < 0.5  # record() does not wait for the database
            await wait_until(lambda: proxy.acquires >= 3)  # the writer has tried, and retried
            assert audit.pending == 30 and audit.written == 0
            assert await audit.flush() == 0  # a direct flush does not raise either
        assert "audit write failed" in caplog.text
        assert "s3cr3t-pw" not in caplog.text and "app:***@db.internal" in caplog.text

        proxy.mode = "up"  # the database comes back: the writer catches up on its own
        await wait_until(lambda: audit.pending == 0)
        assert await count(pool) == 30
    finally:
        await audit.close()
    assert audit.dropped == 0


async def test_closed_pool_does_not_raise(empty_database_url: str) -> None:
    dead = await asyncpg.create_pool(as_url(empty_database_url), min_size=0, max_size=1)
    await dead.close()
    audit = AuditLog(dead, batch_size=5)
    for i in range(12):
        await audit.record(event(i))
    assert await audit.flush() == 0
    assert audit.pending == 12
    await audit.close(close_timeout=2)
    assert audit.pending == 0 and audit.dropped == 12  # reported lost at shutdown


async def test_buffer_cap_drops_the_oldest(pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture) -> None:
    proxy = ProxyPool(pool)
    proxy.mode = "down"
    audit = AuditLog(proxy, batch_size=10, max_buffer=100, flush_interval=60)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="mcp_server.observability.audit"):
        for i in range(250):
            await audit.record(event(i))
        await audit.flush()
    assert audit.pending == 100 and audit.dropped == 150
    assert "dropping the oldest" in caplog.text
    assert "150 dropped so far" in caplog.text
    proxy.mode = "up"
    await audit.close()
    assert await count(pool) == 100
    assert await pool.fetchval("SELECT min(rows) FROM ops.audit_log") == 150  # the newest 100 kept


async def test_hanging_database_does_not_hang_record_or_close(pool: asyncpg.Pool) -> None:
    proxy = ProxyPool(pool)
    proxy.mode = "hang"
    audit = AuditLog(proxy, batch_size=5, flush_interval=0.01)  # type: ignore[arg-type]
    audit.start()
    for i in range(20):
        await asyncio.wait_for(audit.record(event(i)), timeout=0.1)
    await wait_until(lambda: proxy.acquires >= 1)  # the writer is stuck in acquire
    started = time.monotonic()
    await audit.close(close_timeout=0.3)
    assert time.monotonic() - started < 2
    assert audit.pending == 0 and audit.dropped == 20
    assert await count(pool) == 0
    # after close, record() still returns and never raises
    await audit.record(event(99))
    assert audit.dropped == 21
