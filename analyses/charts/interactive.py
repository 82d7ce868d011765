"""The interactive twin of a static chart: a Plotly figure, as JSON, of the same prepared series.

Built from `Plot.series`, the values the static image paints, so hovering a bar shows the number
the PNG draws; nothing is re-aggregated here. The figure is a plain dict (Plotly's JSON schema)
rather than a `plotly.graph_objects.Figure`: validating 100,000 points through graph objects
costs seconds, and the browser's plotly.js reads the dict as is.
"""

from __future__ import annotations

from typing import Any

from analyses.charts.plot import Plot, Series
from analyses.charts.style import HEATMAP_CMAP, PALETTE

LINE_MARKERS_MAX_POINTS = 60  # as the static line chart: markers only while points stay apart
_AXIS_TYPES = {"category": "category", "time": "date", "number": "linear"}


def interactive_figure(plot: Plot, title: str) -> dict[str, Any]:
    """`{"data": [...], "layout": {...}}` for `Plotly.newPlot`: hover, zoom and legend toggles built in."""
    cells = any(series.mark == "cells" for series in plot.series)
    continuous = any(series.colour_values is not None for series in plot.series)
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {"title": {"text": plot.x_label}, "type": _AXIS_TYPES[plot.x_kind], "automargin": True},
        "yaxis": {"title": {"text": plot.y_label}, "automargin": True},
        "colorway": list(PALETTE),
        "barmode": "group",
        "hovermode": "closest",
        "showlegend": not cells and not continuous and (len(plot.series) > 1 or bool(plot.legend_title)),
        "legend": {"title": {"text": plot.legend_title}},
        "autosize": True,
        "margin": {"t": 70, "r": 20, "b": 60, "l": 70},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
    }
    if plot.notes:
        layout["title"]["subtitle"] = {"text": " · ".join(plot.notes)}
    if cells:
        layout["xaxis"]["type"] = "category"
        layout["yaxis"].update(type="category", autorange="reversed")
    return {"data": [_trace(series, plot) for series in plot.series], "layout": layout}


def _trace(series: Series, plot: Plot) -> dict[str, Any]:
    if series.mark == "cells":
        return {
            "type": "heatmap",
            "name": series.name,
            "x": series.x,
            "y": series.y,
            "z": series.z,
            "colorscale": HEATMAP_CMAP.capitalize(),
            "colorbar": {"title": {"text": plot.legend_title}},
            "hoverongaps": False,
        }
    if series.mark == "bars":
        trace: dict[str, Any] = {"type": "bar", "name": series.name, "x": series.x, "y": series.y}
        if series.widths is not None:
            trace["width"] = series.widths
        trace["marker"] = {"color": series.colour}
        return trace
    trace = {"type": "scatter", "name": series.name, "x": series.x, "y": series.y}
    if series.mark == "line":
        markers = len(series.x) <= LINE_MARKERS_MAX_POINTS
        trace.update(mode="lines+markers" if markers else "lines", line={"color": series.colour})
        return trace
    marker: dict[str, Any] = {"opacity": 0.85 if len(series.x) <= 500 else 0.6}
    if series.colour_values is not None:
        marker.update(
            color=series.colour_values,
            colorscale=HEATMAP_CMAP.capitalize(),
            showscale=True,
            colorbar={"title": {"text": plot.legend_title}},
        )
    else:
        marker["color"] = series.colour
    trace.update(mode="markers", marker=marker)
    return trace
