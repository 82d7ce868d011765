"""Overlap producing the next block with consuming the current one, in one worker thread.

On two cores, the generator and the importer alternate CPU work (numpy/pandas: synthesis,
parsing, validation, CSV formatting) with waiting on PostgreSQL's COPY; a single thread
working one block ahead turns that alternation into overlap. Memory stays bounded by
depth + 1 blocks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def prefetched(jobs: Iterable[_T], work: Callable[[_T], _R], depth: int = 1) -> Iterator[_R]:
    """Results of work(job) in order, computing up to `depth` jobs ahead in one thread.

    Memory stays bounded by depth + 1 blocks; an exception in work() surfaces at its turn.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="telcopulse-prefetch")
    pending: deque[Future[_R]] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(work, job))
            if len(pending) > depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
