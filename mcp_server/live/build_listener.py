"""Hear of every mart build, whichever process ran it: LISTEN on the warehouse's build channel.

The recorder NOTIFYs inside the transaction that records a build (`warehouse.build_events`), so
each server process, with one connection of its own, learns of builds run by the Dagster daemon,
`telcopulse refresh` or another replica, with no broker besides PostgreSQL.

A PostgreSQL outage pauses the notifications, never the server: the loop reconnects, and a build
that finished while it was away is announced once it is back (the data version moved), so a
subscriber is not left on stale data silently.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from warehouse.analysis_store import DATA_VERSION_SQL
from warehouse.build_events import BUILD_CHANNEL
from warehouse.db import as_url

logger = logging.getLogger(__name__)

OnBuild = Callable[[str], Awaitable[None]]

_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def listen_for_builds(
    database_url: str,
    on_build: OnBuild,
    *,
    connect_timeout: float = 5.0,
    health_interval: float = 5.0,
    retry_after: float = 2.0,
    ready: asyncio.Event | None = None,
) -> None:
    """Call `on_build(build_id)` for every build until cancelled; `ready` is set once listening."""
    seen: str | None = None
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(
                as_url(database_url),
                timeout=connect_timeout,
                server_settings={"application_name": "telcopulse-mcp-builds"},
            )
            builds: asyncio.Queue[str] = asyncio.Queue()
            await conn.add_listener(BUILD_CHANNEL, functools.partial(_enqueue, builds))
            latest = str(await conn.fetchval(DATA_VERSION_SQL, timeout=connect_timeout))
            if seen is not None and latest != seen:
                logger.info("a mart build finished while build notifications were paused")
                builds.put_nowait(latest)
            seen = latest
            if ready is not None:
                ready.set()
            while True:
                try:
                    build_id = await asyncio.wait_for(builds.get(), timeout=health_interval)
                except TimeoutError:
                    # A dropped connection delivers nothing and says nothing: ask it something.
                    await conn.execute("SELECT 1", timeout=health_interval)
                    continue
                seen = build_id
                await _deliver(on_build, build_id)
        except _CONNECTION_ERRORS as exc:
            # INFO: the outage itself is reported once, as a warning, by `dependencies`.
            logger.info("build notifications paused (%s); reconnecting", type(exc).__name__)
        finally:
            if conn is not None:
                conn.terminate()
        await asyncio.sleep(retry_after)


def _enqueue(builds: asyncio.Queue[str], _conn: object, _pid: int, _channel: str, payload: str) -> None:
    builds.put_nowait(payload)


async def _deliver(on_build: OnBuild, build_id: str) -> None:
    try:
        await on_build(build_id)
    except asyncio.CancelledError:
        raise
    except Exception:  # one failed delivery must not stop the next build's
        logger.exception("announcing build %s failed", build_id)
