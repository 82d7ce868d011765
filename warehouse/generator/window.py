"""The calendar of a load, as integer epoch seconds (naive UTC).

All generation arithmetic is on int64 seconds: it is exact, vectorises, and converts to
`datetime64[s]` only when a frame is formatted for COPY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from warehouse.generator.profiles import SECONDS_PER_DAY


def epoch_seconds(day: dt.date) -> int:
    """Midnight UTC of `day`, in seconds since 1970-01-01."""
    return int(np.datetime64(day, "s").astype(np.int64))


@dataclass(frozen=True)
class Window:
    """[start, end) of generated time, and the month boundaries inside it."""

    start: int
    end: int  # exclusive: midnight after the last day
    month_starts: np.ndarray  # int64 (months + 1,): first second of each month, then of the next

    @classmethod
    def history(cls, end_date: dt.date, history_months: int) -> Window:
        """From the first day of the month `history_months - 1` before end_date's, to end_date."""
        last_month = np.datetime64(end_date, "M")
        months = last_month - np.arange(history_months - 1, -2, -1)
        bounds = months.astype("datetime64[s]").astype(np.int64)
        return cls(start=int(bounds[0]), end=epoch_seconds(end_date) + SECONDS_PER_DAY, month_starts=bounds)

    @classmethod
    def single_day(cls, day: dt.date) -> Window:
        """One day, with its month's boundaries (for month-start and month-end billing)."""
        month = np.datetime64(day, "M")
        bounds = np.array([month, month + 1]).astype("datetime64[s]").astype(np.int64)
        start = epoch_seconds(day)
        return cls(start=start, end=start + SECONDS_PER_DAY, month_starts=bounds)

    @property
    def months(self) -> int:
        return len(self.month_starts) - 1
