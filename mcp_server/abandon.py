"""Abandoned calls stop: a tool call whose HTTP client went away is cancelled.

The MCP SDK runs a tool in its session's task group, not in the HTTP request's task, so a
client that drops its connection leaves the tool (and its PostgreSQL statement) running
to the end. `notifications/cancelled` is already handled by the SDK (it cancels the
handler's scope). This module covers the disconnect:

* `mcp_server.http_limits.McpRequestGuard` (ASGI, owns the request's `receive`) creates one
  `ClientLink` per HTTP request and sets it in `current_link` before the SDK sees the
  request. The SDK hands each handler the contextvars of the task that wrote its message,
  so the tool call carries its own request's link.
* `TelcopulseMCP.call_tool` runs the call inside `cancelled_when_client_leaves()`: when the
  link fires (the client disconnected before its answer was sent), the call's cancel scope
  is cancelled.

Cancellation reaches the database through asyncpg: a cancelled `fetch` sends PostgreSQL a
CancelRequest on a side connection at once, and `Pool.release` (shielded) rolls the
connection back and returns it to the pool. Work in a worker thread (`asyncio.to_thread`)
cannot be interrupted: the awaiting coroutine stops, so no further step (next query,
result insert) runs, and an analysis is told to stop (`analyses.steps`): it ends at its
next checkpoint (between segments, cohorts, models) instead of computing a dropped result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import anyio
import asyncpg

from mcp_server.errors import TelcopulseError

logger = logging.getLogger("telcopulse.http")


class CallAbandoned(TelcopulseError):
    """The client went away before the answer; nobody reads this, the audit trail does."""

    code = "Cancelled"


class ClientLink:
    """Fires once, when the HTTP client of one request disconnects before its answer."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], object]] = []
        self._gone = asyncio.Event()

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    def fire(self) -> int:
        """Mark the client gone and cancel what waits on it; returns how many calls that stopped."""
        if self._gone.is_set():
            return 0
        self._gone.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one broken subscriber must not keep the others running
                logger.exception("abandon callback failed")
        return len(callbacks)

    async def wait(self) -> None:
        await self._gone.wait()

    def subscribe(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` when the client leaves (now, if it already has); returns an unsubscribe."""
        if self._gone.is_set():
            callback()
            return lambda: None
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe


current_link: ContextVar[ClientLink | None] = ContextVar("telcopulse_client_link", default=None)


@contextmanager
def cancelled_when_client_leaves() -> Iterator[anyio.CancelScope]:
    """A cancel scope cancelled when this request's client disconnects.

    The scope swallows its own cancellation: check `scope.cancelled_caught` after the block.
    Without a link (stdio, in-memory clients) it is a plain scope that is never cancelled.
    """
    link = current_link.get()
    with anyio.CancelScope() as scope:
        unsubscribe = link.subscribe(scope.cancel) if link is not None else None
        try:
            yield scope
        finally:
            if unsubscribe is not None:
                unsubscribe()


async def cancel_backend_until_idle(pool: asyncpg.Pool, pid: int, *, within: float = 5.0) -> bool:
    """Cancel backend `pid`'s statement from a side connection, repeating until it is idle.

    For the query executor's cancellation path (`except BaseException` around a statement,
    with `conn.get_server_pid()`). asyncpg's own CancelRequest on task cancellation is lost
    when it reaches PostgreSQL while the backend is still reading the statement (the server
    ignores a cancel between commands), and the statement then runs to its timeout. Shielded
    and bounded, so it also works from a cancelled task. Returns whether the backend is idle.
    """
    with anyio.move_on_after(within, shield=True):
        while True:
            async with pool.acquire() as side:
                state = await side.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
                if state != "active":
                    return True
                await side.fetchval("SELECT pg_cancel_backend($1)", pid)
            await anyio.sleep(0.1)
    return False
