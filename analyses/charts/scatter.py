"""Scatter charts: two numeric columns, optionally coloured by a group or a continuous value."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analyses.charts.columns import (
    classify,
    drop_note,
    key_labels,
    listing,
    numeric,
    numeric_columns,
    resolve,
    resolve_many,
)
from analyses.charts.data import ChartError
from analyses.charts.plot import MAX_SERIES, Plot, Request, Series, json_floats
from analyses.charts.style import (
    HEATMAP_CMAP,
    OTHER_COLOUR,
    PALETTE,
    TEXT_COLOUR,
    NumberFormatter,
    Style,
    humanise,
    legend_options,
    plain,
    shorten,
)

RASTERIZE_POINTS = 5_000  # scatter points beyond which SVG embeds a bitmap instead of one path each


def scatter_plot(frame: pd.DataFrame, ask: Request) -> Plot:
    candidates = numeric_columns(frame)
    x = resolve(frame, ask.x_axis, "x_axis") if ask.x_axis is not None else None
    ys = resolve_many(frame, ask.y_axis, "y_axis")
    if len(ys) > 1:
        raise ChartError("a scatter chart takes one y_axis column; use value to colour groups")
    y = ys[0] if ys else None
    colour_by = resolve(frame, ask.value, "value") if ask.value is not None else None
    spare = [c for c in candidates if c not in (x, y, colour_by)]
    x = x or (spare.pop(0) if spare else None)
    y = y or (spare.pop(0) if spare else None)
    if x is None or y is None:
        raise ChartError(
            "a scatter chart needs numeric x_axis and y_axis; "
            f"numeric columns: {listing(candidates) or '(none)'}"
        )
    xs = numeric(frame, x, "a scatter chart's x axis")
    ys_ = numeric(frame, y, "a scatter chart's y axis")
    keep = (xs.notna() & ys_.notna()).to_numpy()
    notes = drop_note(int((~keep).sum()), "rows with a missing x or y")
    if not keep.any():
        raise ChartError(f"no row has both {x} and {y}; nothing to plot")
    px, py = xs.to_numpy()[keep], ys_.to_numpy()[keep]
    groups: list[tuple[str, np.ndarray, str]] = []
    continuous: np.ndarray | None = None
    if colour_by is not None:
        kind, key = classify(frame[colour_by])
        key = key[keep].reset_index(drop=True)
        if kind == "number" and key.nunique() > MAX_SERIES:
            continuous = key.to_numpy(dtype=float)
        else:
            labels = pd.Series("(missing)", index=key.index, dtype=object)
            labels[key.notna()] = key_labels(pd.Index(key.dropna()), kind)
            counts = labels.value_counts(sort=True)
            ordered = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
            if len(ordered) > MAX_SERIES:
                kept = ordered[: MAX_SERIES - 1]
                notes.append(f"{len(ordered) - len(kept):,} smaller {colour_by} groups merged into Other")
                labels = labels.where(labels.isin(kept), "Other")
                # Merged points go first so the named groups are drawn over the grey mass.
                groups.append(("Other", (labels == "Other").to_numpy(), OTHER_COLOUR))
                ordered = kept
            for i, label in enumerate(ordered):
                groups.append((str(label), (labels == label).to_numpy(), PALETTE[i]))
    n = len(px)
    size, alpha = (30, 0.85) if n <= 500 else (12, 0.6) if n <= RASTERIZE_POINTS else (4, 0.35)

    def draw(fig: Figure, ax: Axes, style: Style) -> None:
        common = {
            "s": size * style.scale,
            "alpha": alpha,
            "linewidths": 0,
            "rasterized": n > RASTERIZE_POINTS,
        }
        if continuous is not None:
            points = ax.scatter(px, py, c=continuous, cmap=HEATMAP_CMAP, zorder=2, **common)
            bar = fig.colorbar(points, ax=ax, pad=0.02)
            bar.set_label(plain(humanise(colour_by or "")), fontsize=style.size(9), color=TEXT_COLOUR)
            bar.ax.tick_params(labelsize=style.size(8))
            bar.ax.yaxis.set_major_formatter(NumberFormatter())
        elif groups:
            artists = {
                label: ax.scatter(px[mask], py[mask], color=colour, zorder=2, **common)
                for label, mask, colour in groups
            }
            # Drawn with the merged remainder first (underneath); listed largest group first, Other last.
            order = sorted(artists, key=lambda label: label == "Other" and groups[0][0] == "Other")
            legend = ax.legend(
                [artists[label] for label in order],
                [plain(shorten(label)) for label in order],
                **legend_options(style, humanise(colour_by or "")),
            )
            for handle in legend.legend_handles:
                handle.set_alpha(1.0)
                handle.set_sizes([30 * style.scale])
        else:
            ax.scatter(px, py, color=PALETTE[0], zorder=2, **common)
        ax.xaxis.set_major_formatter(NumberFormatter(group_from=10_000))
        ax.yaxis.set_major_formatter(NumberFormatter())

    if continuous is not None:
        series = (
            Series(
                humanise(y), "points", json_floats(px), json_floats(py), colour_values=json_floats(continuous)
            ),
        )
    elif groups:
        series = tuple(
            Series(label, "points", json_floats(px[mask]), json_floats(py[mask]), colour=colour)
            for label, mask, colour in groups
        )
    else:
        series = (Series(humanise(y), "points", json_floats(px), json_floats(py), colour=PALETTE[0]),)
    return Plot(
        draw,
        humanise(x),
        humanise(y),
        tuple(notes),
        f"{humanise(y)} vs {humanise(x).lower()}",
        "both",
        series=series,
        x_kind="number",
        legend_title=humanise(colour_by or ""),
    )
