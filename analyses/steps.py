"""Cooperative stopping for analyses that run in a worker thread.

A thread cannot be interrupted from outside, so a caller that no longer wants a result
(its client disconnected, the call was cancelled) sets an event, and the analysis stops at
its next `checkpoint()`: between segments, cohorts, models and other steps, never in the
middle of a library call. The event travels in a context variable, which
`asyncio.to_thread` copies into the worker thread, so analyses take no extra argument.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_stop: ContextVar[threading.Event | None] = ContextVar("analyses_stop", default=None)


class AnalysisStopped(Exception):
    """The caller asked the analysis to stop; nobody is waiting for its result."""


def checkpoint() -> None:
    """Raise `AnalysisStopped` if the caller has asked this analysis to stop."""
    stop = _stop.get()
    if stop is not None and stop.is_set():
        raise AnalysisStopped("the analysis was stopped before it finished")


@contextmanager
def stoppable(stop: threading.Event) -> Iterator[None]:
    """Code run in this context (and threads started from it with a copy of the context)
    stops at its next checkpoint once `stop` is set."""
    token = _stop.set(stop)
    try:
        yield
    finally:
        _stop.reset(token)
