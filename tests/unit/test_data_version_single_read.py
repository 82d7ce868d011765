"""Concurrent callers share one data-version read (issue 13: no pool stampede every 2 s)."""

from __future__ import annotations

import asyncio

import pytest

from mcp_server.cache import DataVersion
from mcp_server.errors import Unavailable


class CountingVersion(DataVersion):
    def __init__(self, outcomes: list[str | Exception]) -> None:
        super().__init__(pool=None, version_ttl=60)  # type: ignore[arg-type]
        self.outcomes = outcomes
        self.reads = 0

    async def _read(self) -> str:
        self.reads += 1
        await asyncio.sleep(0.05)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self._value, self._read_at = outcome, asyncio.get_running_loop().time()
        return outcome


async def test_fifty_concurrent_callers_make_one_read() -> None:
    version = CountingVersion(["build-1"])
    values = await asyncio.gather(*(version.current() for _ in range(50)))
    assert values == ["build-1"] * 50
    assert version.reads == 1


async def test_a_failed_read_fails_every_waiter_once_and_the_next_call_reads_again() -> None:
    version = CountingVersion([Unavailable("PostgreSQL is unreachable; retry in 5 s"), "build-2"])
    results = await asyncio.gather(*(version.current() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) for r in results)
    assert version.reads == 1
    assert await version.current() == "build-2"
    assert version.reads == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_read() -> None:
    version = CountingVersion(["build-3"])
    first = asyncio.ensure_future(version.current())
    second = asyncio.ensure_future(version.current())
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "build-3"
    assert version.reads == 1
