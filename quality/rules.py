"""How "normal" is learned from the trailing history, robustly.

Every relative check compares the recent days with the previous weeks of the same table,
so one warehouse's normal (100 customers or 100,000; a weekend dip; a billing run on
the 1st) is never another's false alarm. The rules are deliberately coarse: they exist
to stop batches that are *plainly* wrong (a unit error is ×60 to ×1000; a lost half day
is −50 %), and must stay silent on day-to-day noise, weekday effects and growth.

Thresholds, and why:

* Volume: a complete day fails under VOLUME_RATIO (50 %) of its baseline, the smaller of
  the trailing median and the trailing median of the same weekday (so a quiet weekend
  is compared with weekends). For small counts the floor is lowered to baseline −
  4·√baseline, the Poisson noise of a day with that many rows, so a 100-customer
  warehouse does not fail on chance.
* Distribution: a day's mean or median must lie within the trailing days' [min ÷ 10,
  max × 10] (ratio measures) or [min − m, max + m] with m = max(0.5, 4 robust SD)
  (scores on a fixed scale). Using the history's extremes, not its centre, keeps billing
  days, weekdays and growth inside; the factor 10 still catches every unit error worth
  catching (×60, ×100, ×1000). Days with fewer than MIN_METRIC_ROWS rows are not judged.
* Null share: a day fails above max(1 %, twice the trailing share), and only with at
  least FLOOD_MIN_ROWS null rows (one null in a ten-row day is not a flood).
* With fewer than MIN_HISTORY_DAYS history days that have rows (a first load, a young or
  tiny warehouse), relative checks pass with a note instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

VOLUME_RATIO = 0.5
POISSON_Z = 4.0
MIN_HISTORY_DAYS = 7
MIN_METRIC_ROWS = 30
MIN_DISTRIBUTION_DAYS = 5
DISTRIBUTION_FACTOR = 10.0
ADDITIVE_MIN_MARGIN = 0.5
ADDITIVE_SD_MARGIN = 4.0
NULL_SHARE_FLOOR = 0.01
NULL_SHARE_MULTIPLIER = 2.0
FLOOD_MIN_ROWS = 5
CONTENT_DUPLICATE_LIMIT = 0.01
RANGE_SHARE_LIMIT = 0.001


@dataclass(frozen=True)
class VolumeBaseline:
    """Per recent day: the rows it must reach (NaN: not judged) and what that came from."""

    floors: dict[dt.date, float]
    baselines: dict[dt.date, float]
    median: float | None
    history_days_with_rows: int
    note: str | None


def volume_baseline(
    history: pd.DataFrame, recent_days: list[dt.date], complete: set[dt.date]
) -> VolumeBaseline:
    rows = history.set_index("day")["rows"].astype(float) if len(history) else pd.Series(dtype=float)
    with_rows = int((rows > 0).sum())
    nan = dict.fromkeys(recent_days, math.nan)
    if with_rows < MIN_HISTORY_DAYS:
        note = (
            f"no trailing history to compare with ({with_rows} of {len(rows)} history days have rows; "
            f"{MIN_HISTORY_DAYS} needed): volume not judged"
        )
        return VolumeBaseline(nan, nan, None, with_rows, note)
    median = float(rows.median())
    weekdays = pd.Series([d.weekday() for d in rows.index], index=rows.index)
    floors, baselines = {}, {}
    for day in recent_days:
        same = rows[weekdays == day.weekday()]
        baseline = min(median, float(same.median())) if len(same) >= 2 else median
        baselines[day] = baseline
        floor = max(0.0, min(VOLUME_RATIO * baseline, baseline - POISSON_Z * math.sqrt(baseline)))
        floors[day] = floor if day in complete else math.nan
    note = None
    if all(f == 0 or math.isnan(f) for f in floors.values()):
        note = f"too few rows per day to judge volume (trailing median {median:,.0f} rows/day)"
    if not complete & set(recent_days):
        note = "no complete day in the recent window: volume not judged"
    return VolumeBaseline(floors, baselines, median, with_rows, note)


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    median: float
    days: int


def judged_values(frame: pd.DataFrame, metric: str, stat: str) -> pd.Series:
    """The day's statistic where the day has enough rows to be judged, else NaN."""
    if len(frame) == 0:
        return pd.Series(dtype=float)
    values = frame[f"{metric}__{stat}"].astype(float)
    enough = frame[f"{metric}__n"].astype(float) >= MIN_METRIC_ROWS
    return values.where(enough)


def distribution_band(history_values: pd.Series, kind: str) -> Band | None:
    """Bounds for a daily statistic learned from the history days (None: too little history)."""
    values = history_values.dropna()
    if len(values) < MIN_DISTRIBUTION_DAYS:
        return None
    low, high, median = float(values.min()), float(values.max()), float(values.median())
    if kind == "ratio":
        if high <= 0:
            return None
        return Band(low / DISTRIBUTION_FACTOR, high * DISTRIBUTION_FACTOR, median, len(values))
    mad = float(np.median(np.abs(values - median))) * 1.4826
    margin = max(ADDITIVE_MIN_MARGIN, ADDITIVE_SD_MARGIN * mad)
    return Band(low - margin, high + margin, median, len(values))


def pooled_mean(frame: pd.DataFrame, metric: str) -> tuple[int, float]:
    """(rows, mean) of a measure over all days of a profile: Σ n·mean / Σ n."""
    if len(frame) == 0:
        return 0, math.nan
    n = frame[f"{metric}__n"].astype(float)
    total = float(n.sum())
    if total == 0:
        return 0, math.nan
    return int(total), float((n * frame[f"{metric}__mean"].astype(float).fillna(0)).sum() / total)


def pooled_band(history_mean: float, kind: str) -> Band | None:
    """Bounds for a pooled window mean: ×/÷ DISTRIBUTION_FACTOR, or ± the additive margin."""
    if not math.isfinite(history_mean):
        return None
    if kind == "ratio":
        if history_mean <= 0:
            return None
        return Band(history_mean / DISTRIBUTION_FACTOR, history_mean * DISTRIBUTION_FACTOR, history_mean, 1)
    return Band(history_mean - ADDITIVE_MIN_MARGIN, history_mean + ADDITIVE_MIN_MARGIN, history_mean, 1)


def null_share_limit(history: pd.DataFrame, column: str) -> tuple[float, float]:
    """(limit, trailing share): a day's null share may reach max(1 %, 2 × the trailing share)."""
    rows = float(history["rows"].sum()) if len(history) else 0.0
    share = float(history[f"nulls__{column}"].sum()) / rows if rows else 0.0
    return max(NULL_SHARE_FLOOR, NULL_SHARE_MULTIPLIER * share), share


def flood_share(count: pd.Series, rows: pd.Series, min_rows: int) -> pd.Series:
    """count / rows per day, NaN (not judged) where the count is below `min_rows` or the day is empty."""
    count, rows = count.astype(float), rows.astype(float)
    share = count / rows.where(rows > 0)
    return share.where(count >= min_rows)


def longest_gap(daily: pd.DataFrame) -> int:
    """Longest run of consecutive days without rows in a profile (learned freshness slack)."""
    longest = run = 0
    for rows in daily["rows"] if len(daily) else []:
        run = run + 1 if rows == 0 else 0
        longest = max(longest, run)
    return longest
