"""`render_chart`: check the request, build the plot for its type, and write PNG, SVG or HTML bytes.

This is the one module that makes figures. Each call builds its own `Figure` with its own
Agg canvas (never pyplot, never rcParams), so concurrent calls from worker threads share
no state; see the package docstring.
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analyses.charts.bar import bar_plot
from analyses.charts.data import ChartError, to_frame
from analyses.charts.heatmap import heatmap_plot
from analyses.charts.histogram import histogram_plot
from analyses.charts.interactive import interactive_figure
from analyses.charts.line import line_plot
from analyses.charts.page import html_page
from analyses.charts.plot import Plot, PlotBuilder, Request
from analyses.charts.scatter import scatter_plot
from analyses.charts.style import DPI, GRID_COLOUR, MUTED_COLOUR, TEXT_COLOUR, Style, plain

ChartType = Literal["bar", "line", "scatter", "histogram", "heatmap"]
ImageFormat = Literal["png", "svg", "html"]

CHART_TYPES: tuple[str, ...] = get_args(ChartType)
IMAGE_FORMATS: tuple[str, ...] = get_args(ImageFormat)
MIME_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}

MAX_ROWS = 100_000
MIN_PIXELS, MAX_PIXELS = 200, 4000
MAX_CATEGORIES_LIMIT = 500

_SVG_SIZE = re.compile(r'width="[\d.]+pt" height="[\d.]+pt"')

_BUILDERS: dict[str, PlotBuilder] = {
    "bar": bar_plot,
    "line": line_plot,
    "scatter": scatter_plot,
    "histogram": histogram_plot,
    "heatmap": heatmap_plot,
}


@dataclass(frozen=True)
class Chart:
    """A rendered chart. `notes` repeats the subtitle (truncation, dropped values) as plain text so
    the tool can tell the agent without it having to read the image. `figure`, when asked for, is
    the same chart as an interactive Plotly figure (`interactive_figure`)."""

    content: bytes
    format: ImageFormat
    mime_type: str
    width: int
    height: int
    notes: tuple[str, ...] = ()
    figure: dict[str, Any] | None = None


def render_chart(
    data: Any,
    chart_type: ChartType,
    *,
    title: str,
    x_axis: str | None = None,
    y_axis: str | list[str] | None = None,
    value: str | None = None,
    format: ImageFormat = "png",
    width: int = 960,
    height: int = 540,
    x_label: str | None = None,
    y_label: str | None = None,
    max_categories: int = 50,
    interactive: bool = False,
) -> Chart:
    """Render `data` as one chart. Safe to call from several threads at once: nothing global is touched.

    Missing columns are inferred where the choice is unambiguous enough to help (first date-like column
    as a line's x, every other numeric column as its lines, bar counts when y is omitted); anything
    that cannot be drawn raises `ChartError` naming the fix. `interactive` adds the Plotly twin.
    """
    if chart_type not in _BUILDERS:
        raise ChartError(f"unknown chart_type {chart_type!r}; choose one of {', '.join(CHART_TYPES)}")
    if format not in MIME_TYPES:
        raise ChartError(f"unknown format {format!r}; choose one of {', '.join(IMAGE_FORMATS)}")
    for name, size in (("width", width), ("height", height)):
        if isinstance(size, bool) or not isinstance(size, int) or not MIN_PIXELS <= size <= MAX_PIXELS:
            raise ChartError(
                f"{name} must be a whole number of pixels from {MIN_PIXELS} to {MAX_PIXELS}; got {size!r}"
            )
    if isinstance(max_categories, bool) or not isinstance(max_categories, int):
        raise ChartError(f"max_categories must be a whole number; got {max_categories!r}")
    if not 1 <= max_categories <= MAX_CATEGORIES_LIMIT:
        raise ChartError(f"max_categories must be from 1 to {MAX_CATEGORIES_LIMIT}; got {max_categories}")

    frame = to_frame(data)
    if frame.empty or frame.columns.empty:
        raise ChartError("data is empty: there are no rows to plot; check the query returned rows")
    if len(frame) > MAX_ROWS:
        raise ChartError(
            f"{len(frame):,} rows is more than the {MAX_ROWS:,} a chart accepts; aggregate first "
            f"(GROUP BY the x column) or sample"
        )
    plot = _BUILDERS[chart_type](frame, Request(x_axis, y_axis, value, max_categories))
    heading = str(title or "").strip() or plot.default_title
    fig = _figure(
        plot,
        heading if format != "html" else None,
        width,
        height,
        x_label if x_label is not None else plot.x_label,
        y_label if y_label is not None else plot.y_label,
    )
    if format == "png":
        content = _png(fig)
    elif format == "svg":
        content = _svg(fig, heading, width, height).encode("utf-8")
    else:
        content = html_page(_svg(fig, heading, width, height), heading, plot.notes, frame).encode("utf-8")
    figure = None
    if interactive:
        figure = interactive_figure(
            replace(
                plot,
                x_label=x_label if x_label is not None else plot.x_label,
                y_label=y_label if y_label is not None else plot.y_label,
            ),
            heading,
        )
    return Chart(content, format, MIME_TYPES[format], width, height, plot.notes, figure)


def _figure(plot: Plot, title: str | None, width: int, height: int, x_label: str, y_label: str) -> Figure:
    style = Style(scale=max(0.75, min(2.5, min(width / 960, height / 540))))
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(h_pad=0.08, w_pad=0.1)
    ax = fig.add_subplot()
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#bbbbbb")
    ax.tick_params(colors=MUTED_COLOUR, labelsize=style.size(9), labelcolor=TEXT_COLOUR)
    if plot.grid_axis != "none":
        ax.grid(True, axis=plot.grid_axis, color=GRID_COLOUR, linewidth=0.8, zorder=0)
        ax.set_axisbelow(True)
    plot.draw(fig, ax, style)
    ax.set_xlabel(plain(x_label), fontsize=style.size(10.5), color=TEXT_COLOUR)
    ax.set_ylabel(plain(y_label), fontsize=style.size(10.5), color=TEXT_COLOUR)
    if title is not None:
        chars = max(20, int(width / (style.size(14) * 0.6 * DPI / 72)))
        lines = textwrap.wrap(title, chars, max_lines=2, placeholder=" …") or [title]
        fig.suptitle(
            plain("\n".join(lines)),
            x=0.01,
            ha="left",
            fontsize=style.size(14),
            fontweight="bold",
            color=TEXT_COLOUR,
        )
        if plot.notes:
            ax.set_title(
                plain(" · ".join(plot.notes)), loc="left", fontsize=style.size(9), color=MUTED_COLOUR
            )
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches=None, metadata={"Software": None})
    return buffer.getvalue()


def _svg(fig: Figure, title: str, width: int, height: int) -> str:
    """SVG text whose root declares the pixel size asked for (matplotlib writes points)."""
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches=None,
        metadata={"Date": None, "Creator": "telcopulse", "Title": title},
    )
    text = buffer.getvalue().decode("utf-8")
    return _SVG_SIZE.sub(f'width="{width}px" height="{height}px"', text, count=1)
