"""Heatmaps: a value per (row category, column category), from long (x, y, value) or wide tables."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from analyses.charts.columns import classify, drop_note, key_labels, numeric, resolve, resolve_many, sort_key
from analyses.charts.data import ChartError
from analyses.charts.plot import Plot, Request, Series, json_floats
from analyses.charts.style import (
    HEATMAP_CMAP,
    TEXT_COLOUR,
    NumberFormatter,
    Style,
    humanise,
    plain,
    shorten,
    value_labels,
)

ANNOTATE_MAX_CELLS = 20  # per heatmap side


def heatmap_plot(frame: pd.DataFrame, ask: Request) -> Plot:
    notes: list[str] = []
    ys = resolve_many(frame, ask.y_axis, "y_axis")
    if len(ys) > 1:
        raise ChartError("a heatmap takes one y_axis column (the row categories)")
    if ys:
        matrix, x_name, y_name, value_label = _long_matrix(frame, ask.x_axis, ys[0], ask.value, notes)
    else:
        if ask.value is not None:
            raise ChartError(
                "a heatmap with value needs y_axis too (long data: x, y, value); or omit y_axis and value "
                "to plot a wide table whose first column labels the rows"
            )
        matrix, x_name, y_name, value_label = _wide_matrix(frame, ask.x_axis, notes)
    for axis, size in (("x", matrix.shape[1]), ("y", matrix.shape[0])):
        if size > ask.max_categories:
            raise ChartError(
                f"heatmap {axis} axis has {size:,} categories (max {ask.max_categories}); filter or bucket "
                "the data first, or raise max_categories"
            )
    cells = matrix.to_numpy(dtype=float)
    if np.isnan(cells).all():
        raise ChartError("every heatmap cell is empty; nothing to plot")
    empty = int(np.isnan(cells).sum())
    if empty:
        notes.append(f"{empty:,} empty cell{'s' if empty > 1 else ''}")
    x_labels = [str(c) for c in matrix.columns]
    y_labels = [str(r) for r in matrix.index]

    def draw(fig: Figure, ax: Axes, style: Style) -> None:
        rows, cols = cells.shape
        finite = cells[np.isfinite(cells)]
        norm = Normalize(vmin=float(finite.min()), vmax=float(finite.max()))
        cmap = matplotlib.colormaps[HEATMAP_CMAP]
        mesh = ax.pcolormesh(
            np.arange(cols + 1),
            np.arange(rows + 1),
            np.ma.masked_invalid(cells),
            cmap=cmap,
            norm=norm,
            edgecolors="white",
            linewidth=0.5 if rows * cols <= 900 else 0,
        )
        ax.set_facecolor("#f2f2f2")
        ax.set_xlim(0, cols)
        ax.set_ylim(rows, 0)
        fontsize = style.size(9 if max(rows, cols) <= 25 else 7)
        ax.set_xticks(np.arange(cols) + 0.5, [plain(shorten(s, 20)) for s in x_labels], fontsize=fontsize)
        ax.set_yticks(np.arange(rows) + 0.5, [plain(shorten(s, 24)) for s in y_labels], fontsize=fontsize)
        if sum(len(s) + 1 for s in x_labels) * fontsize * 0.62 > fig.get_figwidth() * 72 * 0.7:
            for tick in ax.get_xticklabels():
                tick.set(rotation=45, ha="right", rotation_mode="anchor")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(mesh, ax=ax, pad=0.02)
        bar.set_label(plain(value_label), fontsize=style.size(9), color=TEXT_COLOUR)
        bar.ax.tick_params(labelsize=style.size(8))
        bar.ax.yaxis.set_major_formatter(NumberFormatter())
        bar.outline.set_visible(False)
        if rows <= ANNOTATE_MAX_CELLS and cols <= ANNOTATE_MAX_CELLS:
            cell_pt = min(fig.get_figwidth() * 72 * 0.75 / cols, fig.get_figheight() * 72 * 0.7 / rows)
            size = max(5.0, min(style.size(8.5), cell_pt * 0.28))
            texts = np.array(value_labels(cells.ravel())).reshape(cells.shape)
            for (r, c), v in np.ndenumerate(cells):
                if not np.isfinite(v):
                    continue
                red, green, blue, _ = cmap(norm(v))
                light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5
                ax.text(
                    c + 0.5,
                    r + 0.5,
                    texts[r, c],
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="#111111" if light else "white",
                )

    title = f"{value_label} by {y_name.lower()} and {x_name.lower()}" if x_name else value_label
    grid = Series(
        name=value_label,
        mark="cells",
        x=x_labels,
        y=y_labels,
        z=[json_floats(row) for row in cells],
    )
    return Plot(draw, x_name, y_name, tuple(notes), title, "none", series=(grid,), legend_title=value_label)


def _long_matrix(
    frame: pd.DataFrame, x_axis: str | None, y: str, value: str | None, notes: list[str]
) -> tuple[pd.DataFrame, str, str, str]:
    if x_axis is None:
        raise ChartError("a heatmap of long data needs x_axis (column categories) as well as y_axis")
    x = resolve(frame, x_axis, "x_axis")
    x_kind, x_key = classify(frame[x])
    y_kind, y_key = classify(frame[y])
    keep = x_key.notna() & y_key.notna()
    notes += drop_note(int((~keep).sum()), "rows without x or y")
    if value is not None:
        column = resolve(frame, value, "value")
        values = numeric(frame, column, "a heatmap's value")
        notes += drop_note(int((values[keep].isna()).sum()), "missing values")
        value_label = humanise(column)
    else:
        values = pd.Series(1.0, index=frame.index)
        value_label = "Count"
    long = pd.DataFrame({"x": x_key, "y": y_key, "v": values})[keep].dropna(subset=["v"])
    if long.empty:
        raise ChartError("no rows left to plot after dropping missing values")
    grouped = long.groupby(["y", "x"], sort=False)["v"]
    if value is None:
        cells = grouped.sum()
    else:
        cells = grouped.mean()
        if len(cells) < len(long):
            notes.append("cells show the mean of repeated x/y pairs")
    matrix = cells.unstack("x")
    matrix = matrix.sort_index(key=sort_key(y_kind)).sort_index(axis=1, key=sort_key(x_kind))
    matrix.index = key_labels(matrix.index, y_kind)
    matrix.columns = key_labels(matrix.columns, x_kind)
    return matrix, humanise(x), humanise(y), value_label


def _wide_matrix(
    frame: pd.DataFrame, x_axis: str | None, notes: list[str]
) -> tuple[pd.DataFrame, str, str, str]:
    label = resolve(frame, x_axis, "x_axis") if x_axis is not None else frame.columns[0]
    columns = [c for c in frame.columns if c != label]
    if not columns:
        raise ChartError(
            "a wide heatmap needs a label column plus numeric columns; or pass x_axis, y_axis and value"
        )
    values = pd.DataFrame({c: numeric(frame, c, "a wide heatmap's cells") for c in columns})
    _, key = classify(frame[label])
    keep = key.notna()
    notes += drop_note(int((~keep).sum()), f"rows without {label}")
    grouped = values[keep].groupby(key[keep].map(str), sort=False)
    if grouped.ngroups < int(keep.sum()):
        notes.append(f"cells show the mean of rows with the same {label}")
    matrix = grouped.mean()
    return matrix, "", humanise(label), "Value"
