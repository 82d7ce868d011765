"""Histograms: the distribution of one numeric column, in a bounded number of bins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analyses.charts.columns import drop_note, listing, numeric, numeric_columns, resolve
from analyses.charts.data import ChartError
from analyses.charts.plot import Plot, Request, Series, json_floats
from analyses.charts.style import PALETTE, NumberFormatter, Style, humanise

HISTOGRAM_MAX_BINS = 60


def histogram_bins(values: np.ndarray) -> np.ndarray:
    """Bin edges by numpy's "auto" rule (the smaller of Freedman–Diaconis and Sturges widths), capped.

    Computed here rather than by `np.histogram_bin_edges(bins="auto")` because that allocates every
    edge before we could cap the count, and one outlier in 100k rows can ask for millions of bins.
    """
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    n = len(values)
    sturges = (hi - lo) / (math.log2(n) + 1.0)
    q75, q25 = np.percentile(values, [75, 25])
    fd = 2.0 * (q75 - q25) * n ** (-1.0 / 3.0)
    width = min(fd, sturges) if fd > 0 else sturges
    bins = max(1, min(HISTOGRAM_MAX_BINS, math.ceil((hi - lo) / width)))
    return np.linspace(lo, hi, bins + 1)


def histogram_plot(frame: pd.DataFrame, ask: Request) -> Plot:
    if ask.x_axis is not None:
        x = resolve(frame, ask.x_axis, "x_axis")
    else:
        candidates = numeric_columns(frame)
        if not candidates:
            raise ChartError(f"a histogram needs a numeric x_axis; columns: {listing(frame.columns)}")
        x = candidates[0]
    series = numeric(frame, x, "a histogram")
    values = series.dropna().to_numpy()
    notes = drop_note(len(series) - len(values), "missing values")
    if not len(values):
        raise ChartError(f"every value of {x} is missing; nothing to plot")
    edges = histogram_bins(values)
    notes.append(f"n = {len(values):,} in {len(edges) - 1} bins")

    def draw(fig: Figure, ax: Axes, style: Style) -> None:
        ax.hist(values, bins=edges, color=PALETTE[0], edgecolor="white", linewidth=0.6, zorder=2)
        ax.xaxis.set_major_formatter(NumberFormatter(group_from=10_000))
        ax.yaxis.set_major_formatter(NumberFormatter())

    counts, _ = np.histogram(values, bins=edges)  # what `ax.hist` draws: it calls np.histogram too
    bins = Series(
        name="Count",
        mark="bars",
        x=json_floats((edges[:-1] + edges[1:]) / 2),
        y=json_floats(counts),
        colour=PALETTE[0],
        widths=json_floats(np.diff(edges)),
    )
    return Plot(
        draw,
        humanise(x),
        "Count",
        tuple(notes),
        f"Distribution of {humanise(x).lower()}",
        series=(bins,),
        x_kind="number",
    )
