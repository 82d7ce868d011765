"""Bar charts: one bar per category (or per month, hour...), grouped bars for several series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analyses.charts.columns import (
    Kind,
    classify,
    default_x,
    drop_note,
    key_labels,
    resolve,
    resolve_many,
    sort_key,
)
from analyses.charts.data import ChartError
from analyses.charts.plot import MAX_SERIES, Plot, Request, Series, json_floats, mean_by_x, spread
from analyses.charts.style import (
    DPI,
    MUTED_COLOUR,
    PALETTE,
    NumberFormatter,
    Style,
    humanise,
    legend,
    plain,
    shorten,
    value_labels,
)

BAR_LABEL_MAX_BARS = 20


@dataclass(frozen=True)
class BarData:
    """What a bar chart plots, after grouping, sorting and truncation (kept separate for testing)."""

    labels: list[str]
    series: dict[str, np.ndarray]
    kind: Kind
    notes: tuple[str, ...] = ()
    y_label: str = "Value"
    legend_title: str = ""


def prepare_bar(
    frame: pd.DataFrame,
    x_axis: str | None,
    y_axis: str | Sequence[str] | None,
    max_categories: int = 50,
    *,
    value: str | None = None,
) -> BarData:
    """Group by x (mean when rows repeat an x), order, and keep at most `max_categories` bars.

    Named categories sort by value descending (summed across series for grouped bars) so the biggest
    bar leads; numbers and dates keep their natural ascending order because re-ordering a time axis
    by value hides the trend. `value` splits one y (or the row count) into one series per group.
    """
    x = resolve(frame, x_axis, "x_axis") if x_axis is not None else default_x(frame, "category")
    ys = resolve_many(frame, y_axis, "y_axis")
    notes: list[str] = []
    legend_title = ""
    measures, counting = ys, not ys
    purpose = "a bar chart's y axis"
    if value is not None:
        legend_title = humanise(resolve(frame, value, "value"))
        frame, ys = spread(frame, x, ys, value, purpose, notes)
    if len(ys) > MAX_SERIES:
        raise ChartError(f"at most {MAX_SERIES} y columns fit one bar chart; got {len(ys)}")
    kind, key = classify(frame[x])
    notes += drop_note(int(key.isna().sum()), f"rows without {x}")
    if ys:
        table = mean_by_x(
            frame, x, key, ys, purpose, notes, note_missing=value is None, sort=False, marks="bars"
        )
    else:
        present = key.dropna()
        table = present.groupby(present, sort=False).size().astype(float).to_frame("Count")
    table = table.dropna(how="all")
    if table.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    table = table.sort_index(key=sort_key(kind))
    size = table.sum(axis=1, skipna=True)
    total = len(table)
    if kind == "category":
        table = table.loc[size.sort_values(ascending=False, kind="stable").index]
        if total > max_categories:
            table = table.head(max_categories)
            notes.append(f"top {max_categories} of {total:,} categories")
    elif total > max_categories:
        if kind == "time":
            table = table.tail(max_categories)
            notes.append(f"latest {max_categories} of {total:,}")
        else:
            top = size.sort_values(ascending=False, kind="stable").head(max_categories).index
            table = table.loc[table.index.isin(top)]
            notes.append(f"top {max_categories} of {total:,}")
    series = {str(c): table[c].to_numpy(dtype=float) for c in table.columns}
    if counting:
        y_label = "Count"
    elif value is not None or len(measures) == 1:
        y_label = humanise(measures[0])
    else:
        y_label = "Value"
    return BarData(
        labels=key_labels(table.index, kind),
        series=series,
        kind=kind,
        notes=tuple(notes),
        y_label=y_label,
        legend_title=legend_title,
    )


def bar_plot(frame: pd.DataFrame, ask: Request) -> Plot:
    data = prepare_bar(frame, ask.x_axis, ask.y_axis, ask.max_categories, value=ask.value)
    x = resolve(frame, ask.x_axis, "x_axis") if ask.x_axis is not None else default_x(frame, "category")
    names = list(data.series)
    y_label = data.y_label

    def draw(fig: Figure, ax: Axes, style: Style) -> None:
        n, k = len(data.labels), len(names)
        positions = np.arange(n)
        width = 0.8 / k
        for i, name in enumerate(names):
            bars = ax.bar(
                positions + (i - (k - 1) / 2) * width,
                data.series[name],
                width,
                color=PALETTE[i % len(PALETTE)] if k > 1 else PALETTE[0],
                label=plain(name if data.legend_title else humanise(name)),
                zorder=2,
            )
            if k == 1 and n <= BAR_LABEL_MAX_BARS and _labels_fit(fig, n, data.series[name], style):
                ax.bar_label(
                    bars,
                    labels=value_labels(data.series[name]),
                    padding=2,
                    fontsize=style.size(8),
                    color=MUTED_COLOUR,
                )
        _category_ticks(ax, data.labels, style, rotate_hint=n)
        ax.set_xlim(-0.6, n - 0.4)
        ax.yaxis.set_major_formatter(NumberFormatter())
        if k > 1 or data.legend_title:
            legend(ax, style, title=data.legend_title)

    title = f"{y_label} by {humanise(x).lower()}"
    series = tuple(
        Series(
            name=name if data.legend_title else humanise(name),
            mark="bars",
            x=list(data.labels),
            y=json_floats(data.series[name]),
            colour=PALETTE[i % len(PALETTE)],
        )
        for i, name in enumerate(names)
    )
    return Plot(
        draw,
        humanise(x),
        y_label,
        data.notes,
        title,
        series=series,
        x_kind="category",
        legend_title=data.legend_title,
    )


def _labels_fit(fig: Figure, bars: int, values: np.ndarray, style: Style) -> bool:
    """Value labels only when each fits over its bar; overlapping numbers are worse than none."""
    bar_px = fig.get_figwidth() * DPI * 0.75 * 0.8 / bars
    widest = max((len(label) for label in value_labels(values)), default=0)
    return widest * style.size(8) * 0.62 * DPI / 72 <= bar_px


def _category_ticks(ax: Axes, labels: list[str], style: Style, rotate_hint: int) -> None:
    shown = [plain(shorten(label)) for label in labels]
    axes_px = ax.figure.get_figwidth() * DPI * 0.8
    text_px = sum(len(s) + 2 for s in shown) * style.size(9) * 0.62 * DPI / 72
    fontsize = style.size(9 if rotate_hint <= 40 else 7)
    if text_px > axes_px:
        ax.set_xticks(
            np.arange(len(shown)), shown, rotation=45, ha="right", rotation_mode="anchor", fontsize=fontsize
        )
    else:
        ax.set_xticks(np.arange(len(shown)), shown, fontsize=fontsize)
    ax.tick_params(axis="x", length=0)
