"""Line charts: one line per numeric column (or per group of `value`) over a time, number or label x."""

from __future__ import annotations

import math

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analyses.charts.columns import (
    classify,
    default_x,
    drop_note,
    key_labels,
    listing,
    numeric_columns,
    resolve,
    resolve_many,
    sort_key,
)
from analyses.charts.data import ChartError
from analyses.charts.plot import MAX_SERIES, Plot, Request, Series, json_floats, mean_by_x, spread
from analyses.charts.style import PALETTE, NumberFormatter, Style, humanise, legend, plain, shorten


def line_plot(frame: pd.DataFrame, ask: Request) -> Plot:
    x = resolve(frame, ask.x_axis, "x_axis") if ask.x_axis is not None else default_x(frame, "time")
    group = resolve(frame, ask.value, "value") if ask.value is not None else None
    ys = resolve_many(frame, ask.y_axis, "y_axis") or numeric_columns(frame, exclude=[x, group or x])
    if not ys:
        raise ChartError(
            f"a line chart needs a numeric y_axis; columns: {listing(frame.columns)} (none numeric)"
        )
    notes: list[str] = []
    y_label = humanise(ys[0]) if len(ys) == 1 else "Value"
    purpose = "a line chart's y axis"
    if group is not None:
        frame, ys = spread(frame, x, ys, group, purpose, notes)
    if len(ys) > MAX_SERIES:
        raise ChartError(
            f"at most {MAX_SERIES} lines fit one chart; got {len(ys)} y columns: pass y_axis to choose"
        )
    kind, key = classify(frame[x])
    notes += drop_note(int(key.isna().sum()), f"rows without {x}")
    table = mean_by_x(
        frame, x, key, ys, purpose, notes, note_missing=group is None, sort=True, marks="points"
    )
    if key.isna().all():  # checked after the y columns, whose errors say more
        raise ChartError(f"no rows with a value in {x} to plot")
    if kind == "category":
        table = table.sort_index(key=sort_key(kind))
    labels = key_labels(table.index, kind) if kind == "category" else []
    if kind == "time":
        xs = mdates.date2num(pd.DatetimeIndex(table.index).to_numpy())
    elif kind == "number":
        xs = table.index.to_numpy(dtype=float)
    else:
        xs = np.arange(len(table), dtype=float)
    shown = _axis_values(table.index, kind, labels)
    lines = []
    series = []
    for y in ys:
        mask = table[y].notna().to_numpy()
        if mask.any():
            lines.append((y, xs[mask], table[y].to_numpy(dtype=float)[mask]))
            series.append(
                Series(
                    name=y if group else humanise(y),
                    mark="line",
                    x=[v for v, keep in zip(shown, mask, strict=True) if keep],
                    y=json_floats(lines[-1][2]),
                    colour=PALETTE[(len(lines) - 1) % len(PALETTE)],
                )
            )
    if not lines:
        raise ChartError(f"every value of {listing(ys)} is missing; nothing to plot")

    def draw(fig: Figure, ax: Axes, style: Style) -> None:
        for i, (name, px, py) in enumerate(lines):
            ax.plot(
                px,
                py,
                color=PALETTE[i % len(PALETTE)],
                linewidth=style.size(2),
                marker="o" if len(px) <= 60 else None,
                markersize=style.size(3.5),
                label=plain(name if group else humanise(name)),
                zorder=2,
            )
        if kind == "time":
            locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        elif kind == "number":
            ax.xaxis.set_major_formatter(NumberFormatter(group_from=10_000))
        else:
            step = max(1, math.ceil(len(labels) / 25))
            ax.set_xticks(xs[::step], [plain(shorten(s)) for s in labels[::step]])
            if len(labels) > 12:
                for tick in ax.get_xticklabels():
                    tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.yaxis.set_major_formatter(NumberFormatter())
        if len(lines) > 1 or group:
            legend(ax, style, title=humanise(group or ""))

    return Plot(
        draw,
        humanise(x),
        y_label,
        tuple(notes),
        f"{y_label} by {humanise(x).lower()}",
        "both",
        series=tuple(series),
        x_kind=kind,
        legend_title=humanise(group or ""),
    )


def _axis_values(index: pd.Index, kind: str, labels: list[str]) -> list[object]:
    """The x values as the interactive view shows them: ISO times, plain numbers or the labels."""
    if kind == "time":
        return [stamp.isoformat() for stamp in pd.DatetimeIndex(index)]
    if kind == "number":
        return [float(v) for v in index]
    return list(labels)
