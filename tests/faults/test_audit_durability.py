"""Audit durability: admin and write calls are in `ops.audit_log` before they are answered.

- A real `telcopulse serve --transport http` process is killed with SIGKILL right after an
  admin call is answered: its `started` and `ok` rows are committed (and so is the read call
  made before it, written ahead of them to keep call order). A read call's row may be lost
  in such a crash: those are batched, at most `flush_interval` (250 ms) or `batch_size` (50
  rows) of them, plus a batch in flight.
- With PostgreSQL down (a private cluster, never the machine's 5432), admin calls answer
  `Unavailable` and do not act, while session writes (Redis-only) go on with their rows
  queued; once it is back admin calls work, and every kept row has been written.
- `AuditLog.write_now` itself: commits queued rows first, returns False when it cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psycopg
import pytest
import redis

from mcp_server.cache import QUERY_CACHE_PREFIX
from mcp_server.observability.audit import STARTED, AuditEvent, AuditLog
from mcp_server.sessions.store import index_key
from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import (
    error_text,
    free_port,
    keyed_client,
    make_keys,
    server_env,
    stop_group,
    structured,
)
from tests.private_services import PrivatePostgres
from warehouse.db import as_url, create_database, warehouse_id, with_database
from warehouse.migrate import migrate

pytestmark = pytest.mark.integration


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    keys: dict[str, str]
    key_ids: dict[str, str]
    log_path: Path

    def kill_9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the process we started
        self.process.wait(timeout=10)


@contextmanager
def serve(database_url: str, redis_url: str, data_dir: Path, people: dict[str, str]) -> Iterator[Server]:
    """`telcopulse serve` over HTTP with one file-stored key per person; the process is exposed
    (unlike `running_server`) so a test can SIGKILL it."""
    keys_file = data_dir / "api_keys.jsonl"
    keys, key_ids = make_keys(keys_file, people)
    env = server_env(database_url, redis_url, data_dir, TELCOPULSE_API_KEYS_FILE=str(keys_file))
    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"MCP HTTP server did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield Server(process, f"http://127.0.0.1:{port}/mcp", keys, key_ids, log_path)
    finally:
        stop_group(process, timeout=15)


@contextlib.asynccontextmanager
async def client(server: Server, person: str) -> AsyncIterator[Any]:
    """A keyed MCP client whose shutdown may find the server gone (killed by the test)."""
    opened = keyed_client(server.url, server.keys[person])
    session = await opened.__aenter__()
    try:
        yield session
    except BaseException as exc:
        await opened.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    with contextlib.suppress(Exception, BaseExceptionGroup):
        await opened.__aexit__(None, None, None)


def audit_rows(database_url: str, key_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT tool, outcome FROM ops.audit_log WHERE key_id = %s ORDER BY id", (key_id,)
        ).fetchall()


def people() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {f"durable-admin-{suffix}": "admin", f"durable-analyst-{suffix}": "analyst"}


def _names(roles: dict[str, str]) -> tuple[str, str]:
    return next(n for n, r in roles.items() if r == "admin"), next(
        n for n, r in roles.items() if r == "analyst"
    )


# --------------------------------------------------------------------------- kill -9


def test_admin_and_write_rows_survive_kill_9(empty_database_url, redis_url, tmp_path) -> None:
    roles = people()
    admin, analyst = _names(roles)
    with serve(empty_database_url, redis_url, tmp_path, roles) as server:

        async def calls() -> None:
            async with client(server, analyst) as alice, client(server, admin) as ada:
                structured(await alice.call_tool("query_database", {"query": "SELECT 1 AS one"}))
                structured(await alice.call_tool("session_create", {"data_source": "warehouse"}))
                structured(await ada.call_tool("cache_clear", {"scope": "queries"}))
                server.kill_9()  # at once: nothing after the answer gets a chance to run

        asyncio.run(calls())
        assert server.process.returncode == -signal.SIGKILL

    assert audit_rows(empty_database_url, server.key_ids[admin]) == [
        ("cache_clear", STARTED),
        ("cache_clear", "ok"),
    ]
    # The read call was answered first; the write calls' synchronous writes took it along.
    assert audit_rows(empty_database_url, server.key_ids[analyst]) == [
        ("query_database", "ok"),
        ("session_create", STARTED),
        ("session_create", "ok"),
    ]


# --------------------------------------------------------------------------- PostgreSQL down


@pytest.fixture()
def private_database() -> Iterator[tuple[PrivatePostgres, str]]:
    pg = PrivatePostgres()
    try:
        pg.start()
        create_database(pg.url(), "telcopulse_durability")
        url = with_database(pg.url(), "telcopulse_durability")
        migrate(url)
        yield pg, url
    finally:
        pg.cleanup()


def test_admin_calls_answer_unavailable_and_session_writes_go_on_without_postgres(
    private_database, redis_url, tmp_path
) -> None:
    pg, database_url = private_database
    roles = people()
    admin, analyst = _names(roles)
    cached = f"{QUERY_CACHE_PREFIX}:{warehouse_id(database_url)}:durability-probe"
    sessions_of_analyst = index_key(analyst)
    store = redis.Redis.from_url(redis_url)
    store.set(cached, b"1", ex=600)
    try:
        with serve(database_url, redis_url, tmp_path, roles) as server:

            async def calls() -> None:
                async with client(server, analyst) as alice, client(server, admin) as ada:
                    pg.stop("immediate")  # a crash: connections cut, nothing listening
                    started = time.monotonic()
                    result = await ada.call_tool("cache_clear", {"scope": "queries"})
                    assert result.is_error
                    assert error_text(result).startswith("Unavailable: the audit log"), error_text(result)
                    assert "was not run" in error_text(result)
                    assert time.monotonic() - started < 12  # bounded by 2 x write_timeout
                    assert store.exists(cached) == 1  # the admin action did not happen
                    # A session write is the user's own Redis data: it runs, its rows queued.
                    structured(await alice.call_tool("session_create", {"data_source": "warehouse"}))
                    assert store.exists(sessions_of_analyst) == 1

                    pg.start()  # recovery: the same calls go through, nothing to restart
                    cleared = structured(await ada.call_tool("cache_clear", {"scope": "queries"}))
                    assert cleared["deleted_keys"] >= 1
                    structured(await alice.call_tool("session_create", {"data_source": "warehouse"}))
                    assert store.exists(cached) == 0

            asyncio.run(calls())

        # The refused calls have their row (kept in memory, written once PostgreSQL was back),
        # and no `started` row: they never ran.
        assert audit_rows(database_url, server.key_ids[admin]) == [
            ("cache_clear", "Unavailable"),
            ("cache_clear", STARTED),
            ("cache_clear", "ok"),
        ]
        # The session write made during the outage: both rows queued, written once it was back.
        assert audit_rows(database_url, server.key_ids[analyst]) == [
            ("session_create", STARTED),
            ("session_create", "ok"),
            ("session_create", STARTED),
            ("session_create", "ok"),
        ]
    finally:
        store.delete(cached)
        store.close()


# --------------------------------------------------------------------------- AuditLog.write_now


class _DownPool:
    def acquire(self, *, timeout: float | None = None) -> Any:
        raise ConnectionRefusedError("PostgreSQL is down")


def _event(tool: str, outcome: str = "ok") -> AuditEvent:
    return AuditEvent(tool=tool, outcome=outcome, key_id="0123456789ab", role="admin", transport="http")


async def test_write_now_commits_queued_rows_first(empty_database_url) -> None:
    pool = await asyncpg.create_pool(as_url(empty_database_url), min_size=1, max_size=2)
    try:
        audit = AuditLog(pool, flush_interval=60)  # no background writer: only write_now writes
        for i in range(3):
            await audit.record(_event(f"read_{i}"))
        assert await audit.write_now(_event("cache_clear", STARTED)) is True
        assert audit.pending == 0 and audit.written == 4
        tools = await pool.fetch("SELECT tool, outcome FROM ops.audit_log ORDER BY id")
        assert [tuple(row) for row in tools] == [
            ("read_0", "ok"),
            ("read_1", "ok"),
            ("read_2", "ok"),
            ("cache_clear", STARTED),
        ]
    finally:
        await pool.close()


async def test_write_now_reports_failure_and_queues_only_when_asked() -> None:
    audit = AuditLog(_DownPool(), flush_interval=60, write_timeout=0.5)  # type: ignore[arg-type]
    await audit.record(_event("read"))
    assert await audit.write_now(_event("cache_clear", STARTED)) is False
    assert audit.pending == 1  # the queued read row is kept; the `started` row is not
    assert await audit.write_now(_event("cache_clear", "Unavailable"), queue_on_failure=True) is False
    assert audit.pending == 2
    await audit.close(close_timeout=0.5)
    assert await audit.write_now(_event("cache_clear", STARTED)) is False  # closed


class _HangingPool:
    def acquire(self, *, timeout: float | None = None) -> Any:
        return self

    async def __aenter__(self) -> Any:
        await asyncio.Event().wait()  # a database that never answers

    async def __aexit__(self, *exc: object) -> bool:
        return False


async def test_write_now_keeps_the_row_when_the_caller_gives_up() -> None:
    audit = AuditLog(_HangingPool(), flush_interval=60)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):  # e.g. the server's grace period for a call's audit
        await asyncio.wait_for(audit.write_now(_event("session_update"), queue_on_failure=True), 0.2)
    assert audit.pending == 1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(audit.write_now(_event("cache_clear", STARTED)), 0.2)
    assert audit.pending == 1  # a `started` row is never queued: its call did not run
