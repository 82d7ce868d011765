"""Which days a suite judges ("recent") and which days it learns normal from ("history").

Table scope (the gate before the marts): recent = the newest RECENT_DAYS calendar days
ending on the newest day that has rows (not "today": a feed that stopped should be judged
on its last data and reported stale, not judged on empty days); history = the
HISTORY_DAYS calendar days just before. Volume is judged on complete days only (before
`as_of`, today UTC): today's partial day would always look short.

Batch scope (one import): recent = the days the batch touches; history = the
HISTORY_DAYS before its first day, read from the warehouse.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

RECENT_DAYS = 7
HISTORY_DAYS = 28


@dataclass(frozen=True)
class QualityWindow:
    """[history_start, history_end] then [recent_start, recent_end], all inclusive dates."""

    as_of: dt.date
    recent_start: dt.date
    recent_end: dt.date
    history_start: dt.date
    history_end: dt.date

    @classmethod
    def trailing(
        cls,
        newest_day: dt.date,
        *,
        as_of: dt.date,
        recent_days: int = RECENT_DAYS,
        history_days: int = HISTORY_DAYS,
    ) -> QualityWindow:
        recent_start = newest_day - dt.timedelta(days=recent_days - 1)
        return cls(
            as_of=as_of,
            recent_start=recent_start,
            recent_end=newest_day,
            history_start=recent_start - dt.timedelta(days=history_days),
            history_end=recent_start - dt.timedelta(days=1),
        )

    @classmethod
    def for_batch(
        cls, first_day: dt.date, last_day: dt.date, *, as_of: dt.date, history_days: int = HISTORY_DAYS
    ) -> QualityWindow:
        return cls(
            as_of=as_of,
            recent_start=first_day,
            recent_end=last_day,
            history_start=first_day - dt.timedelta(days=history_days),
            history_end=first_day - dt.timedelta(days=1),
        )

    def is_complete(self, day: dt.date) -> bool:
        """A day is complete once it is over in UTC: only those are judged for volume."""
        return day < self.as_of

    def split(self, daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(recent rows, history rows) of a daily profile covering both ranges."""
        days = daily["day"]
        recent = daily[(days >= self.recent_start) & (days <= self.recent_end)]
        history = daily[(days >= self.history_start) & (days <= self.history_end)]
        return recent.reset_index(drop=True), history.reset_index(drop=True)

    def describe_history(self) -> str:
        return f"{self.history_start}–{self.history_end}"

    def previous_days(self) -> str:
        """'the previous 28 days (2026-09-27–2026-10-24)', for explanations."""
        days = (self.history_end - self.history_start).days + 1
        return f"the previous {days} days ({self.describe_history()})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "recent_start": self.recent_start.isoformat(),
            "recent_end": self.recent_end.isoformat(),
            "history_start": self.history_start.isoformat(),
            "history_end": self.history_end.isoformat(),
        }
