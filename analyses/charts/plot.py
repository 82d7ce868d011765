"""What a plot builder gets and returns, and the data steps bar and line charts share.

A builder checks and prepares the data eagerly, so every `ChartError` is raised before a
figure exists, and returns a `Plot` whose `draw` only paints the prepared numbers onto the
axes the renderer made. That split keeps the renderer the one place that owns figures.

The prepared numbers are also kept as `Series`, free of any drawing library, so the
interactive view (`interactive`) plots exactly what the static image paints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analyses.charts.columns import Kind, classify, drop_note, key_labels, natural, numeric, resolve
from analyses.charts.data import ChartError
from analyses.charts.style import Style

MAX_SERIES = 8


@dataclass(frozen=True)
class Request:
    """The columns and limit the caller asked for, as `render_chart` got them.

    One object rather than five parameters, so every builder has the same signature and
    reads only what its chart type uses.
    """

    x_axis: str | None
    y_axis: str | Sequence[str] | None
    value: str | None
    max_categories: int


Mark = Literal["bars", "line", "points", "cells"]


@dataclass(frozen=True)
class Series:
    """One thing a chart draws, as plain values: the shared source of the image and the interactive view.

    `x` holds what the axis shows (category labels, numbers, or ISO dates on a time axis); `y`
    the drawn values (None where a value is missing). Cells carry `z`, one row per `y` label.
    `widths` gives histogram bars their bin widths; `colour_values` colours points continuously.
    """

    name: str
    mark: Mark
    x: list[Any]
    y: list[Any]
    colour: str | None = None
    z: list[list[float | None]] | None = None
    widths: list[float] | None = None
    colour_values: list[float] | None = None


@dataclass(frozen=True)
class Plot:
    """A prepared chart: `draw` paints it; labels, notes and title are its defaults for the figure.

    `series` is what `draw` paints, in the order it paints it; `x_kind` how the x axis reads;
    `legend_title` names the groups (or the colour scale) when there are several.
    """

    draw: Callable[[Figure, Axes, Style], None]
    x_label: str
    y_label: str
    notes: tuple[str, ...]
    default_title: str
    grid_axis: Literal["x", "y", "both", "none"] = "y"
    series: tuple[Series, ...] = ()
    x_kind: Kind = "category"
    legend_title: str = ""


def json_floats(array: Any) -> list[float | None]:
    """Floats for a JSON document: NaN and infinities (missing or undrawable) become None."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(array, dtype=float).ravel()]


PlotBuilder = Callable[[pd.DataFrame, Request], Plot]  # one per chart type


def spread(
    frame: pd.DataFrame, x: str, ys: list[str], value: str, purpose: str, notes: list[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Long rows (x, group, y) -> one column per group, so "revenue by month per region" is one call
    on the shape SQL naturally returns. Without a y the groups' row counts are plotted."""
    group = resolve(frame, value, "value")
    if len(ys) > 1:
        raise ChartError("value splits one y_axis column into a series per group; pass a single y_axis")
    kind, key = classify(frame[group])
    labels = pd.Series(np.nan, index=frame.index, dtype=object)
    present = key.notna()
    labels[present] = key_labels(pd.Index(key[present]), kind)
    order = pd.Index(labels[present].unique())
    if len(order) > MAX_SERIES:
        raise ChartError(
            f"{group} has {len(order):,} distinct values but at most {MAX_SERIES} series fit one chart; "
            f"filter to fewer {group} values, or omit value"
        )
    notes += drop_note(int((~present).sum()), f"rows without {group}")
    if ys:
        measure = numeric(frame, ys[0], purpose)
        notes += drop_note(int(measure[present].isna().sum()), "missing y values")
    else:
        measure = pd.Series(1.0, index=frame.index)
    long = pd.DataFrame({"x": frame[x], "g": labels, "y": measure})[present].dropna(subset=["y"])
    # A row without an x has no place on the axis (pivoting would drop it, and with it a group
    # that has no other row).
    notes += drop_note(int(long["x"].isna().sum()), f"rows without {x}")
    long = long.dropna(subset=["x"])
    if long.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    if ys and long.groupby(["x", "g"], sort=False).size().max() > 1:
        notes.append(f"each point is the mean of rows with the same {x} and {group}")
    wide = long.pivot_table(index="x", columns="g", values="y", aggfunc="mean" if ys else "sum", sort=False)
    if not ys:
        wide = wide.fillna(0.0)
    kept = order[order.isin(wide.columns)]
    columns = sorted(kept, key=(lambda v: str(v).casefold()) if kind == "category" else natural(kind))
    names = [c if c != x else f"{c} ({group})" for c in columns]
    return wide[columns].set_axis(names, axis=1).rename_axis(x).reset_index(), names


def mean_by_x(
    frame: pd.DataFrame,
    x: str,
    key: pd.Series,
    ys: list[str],
    purpose: str,
    notes: list[str],
    *,
    note_missing: bool,
    sort: bool,
    marks: str,
) -> pd.DataFrame:
    """Each y averaged over the rows that share an x `key` (rows whose key is missing left out).

    Bars and lines both plot one value per x; saying when that value is a mean (`marks` names
    what is drawn: "bars", "points") keeps a chart of repeated x values from passing for raw data.
    """
    keep = key.notna()
    values = pd.DataFrame({y: numeric(frame, y, purpose) for y in ys})[keep]
    if note_missing:
        notes += drop_note(int(values.isna().sum().sum()), "missing y values")
    grouped = values.groupby(key[keep], sort=sort)
    if grouped.ngroups < len(values):
        notes.append(f"{marks} show the mean of rows with the same {x}")
    return grouped.mean()
