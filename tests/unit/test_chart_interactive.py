"""The interactive chart (a Plotly figure) shows exactly the numbers the static image paints.

Each case prepares a chart, draws it with matplotlib the way `render_chart` does, reads the
drawn artists back (bar heights, line and point coordinates, heatmap cells) and compares them
with the Plotly figure's traces. plotly's own graph objects then validate the figure.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from analyses.charts import render_chart
from analyses.charts.plot import Request
from analyses.charts.render import _BUILDERS, _figure

MONTHS = [f"2026-{m:02d}-01" for m in range(1, 7)]
ROWS = [
    {"month": month, "segment": segment, "arpu": 10 + i * 1.5 + (3 if segment == "business" else 0), "n": i}
    for i, month in enumerate(MONTHS)
    for segment in ("consumer", "business")
]


def _drawn(chart_type: str, rows: list[dict], **ask: object):
    from analyses.charts.data import to_frame

    plot = _BUILDERS[chart_type](
        to_frame(rows),
        Request(ask.get("x_axis"), ask.get("y_axis"), ask.get("value"), 50),  # type: ignore[arg-type]
    )
    fig = _figure(plot, "t", 960, 540, plot.x_label, plot.y_label)
    figure = render_chart(rows, chart_type, title="t", interactive=True, **ask).figure  # type: ignore[arg-type]
    assert figure is not None
    go.Figure(figure)  # a valid Plotly figure (raises on any unknown property)
    return fig.axes[0], figure


def _close(a, b) -> None:
    assert np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def test_bars_have_the_heights_the_image_draws():
    ax, figure = _drawn("bar", ROWS, x_axis="month", y_axis="arpu", value="segment")
    heights = [patch.get_height() for patch in ax.patches]
    assert [trace["type"] for trace in figure["data"]] == ["bar", "bar"]
    assert [trace["name"] for trace in figure["data"]] == ["business", "consumer"]
    _close(heights, [v for trace in figure["data"] for v in trace["y"]])
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    assert figure["data"][0]["x"] == ticks == [m[:7] for m in MONTHS]
    assert figure["layout"]["xaxis"]["type"] == "category" and figure["layout"]["showlegend"] is True


def test_lines_pass_through_the_points_the_image_draws():
    ax, figure = _drawn("line", ROWS, x_axis="month", y_axis="arpu", value="segment")
    assert len(ax.lines) == len(figure["data"]) == 2
    for line, trace in zip(ax.lines, figure["data"], strict=True):
        _close(line.get_ydata(), trace["y"])
        assert trace["x"] == [f"{m}T00:00:00" for m in MONTHS]
        assert trace["mode"] == "lines+markers"
    assert figure["layout"]["xaxis"]["type"] == "date"
    assert figure["layout"]["legend"]["title"]["text"] == "Segment"


def test_points_sit_where_the_image_puts_them_per_group():
    ax, figure = _drawn("scatter", ROWS, x_axis="n", y_axis="arpu", value="segment")
    drawn = [collection.get_offsets() for collection in ax.collections]
    assert len(drawn) == len(figure["data"]) == 2
    for offsets, trace in zip(drawn, figure["data"], strict=True):
        _close(offsets[:, 0], trace["x"])
        _close(offsets[:, 1], trace["y"])
        assert trace["mode"] == "markers"


def test_a_continuous_colour_scale_carries_the_same_values():
    rows = [{"x": float(i), "y": float(i * i), "load": float(i % 11)} for i in range(40)]
    ax, figure = _drawn("scatter", rows, x_axis="x", y_axis="y", value="load")
    (trace,) = figure["data"]
    _close(ax.collections[0].get_array(), trace["marker"]["color"])
    assert trace["marker"]["showscale"] is True


def test_histogram_bins_and_counts_are_the_images():
    rows = [{"latency": float(v)} for v in np.random.default_rng(3).gamma(2.0, 20.0, 500)]
    ax, figure = _drawn("histogram", rows, x_axis="latency")
    (trace,) = figure["data"]
    _close([patch.get_height() for patch in ax.patches], trace["y"])
    _close([patch.get_width() for patch in ax.patches], trace["width"])
    _close([patch.get_x() + patch.get_width() / 2 for patch in ax.patches], trace["x"])
    assert sum(trace["y"]) == 500


def test_heatmap_cells_are_the_images_and_empty_cells_stay_empty():
    rows = [r for r in ROWS if not (r["segment"] == "business" and r["month"] == MONTHS[2])]
    ax, figure = _drawn("heatmap", rows, x_axis="month", y_axis="segment", value="arpu")
    (trace,) = figure["data"]
    mesh = np.ma.filled(ax.collections[0].get_array().astype(float), np.nan).reshape(2, len(MONTHS))
    z = np.array([[math.nan if v is None else v for v in row] for row in trace["z"]])
    _close(mesh, z)
    assert trace["z"][0][2] is None  # JSON null, not NaN
    assert trace["y"] == ["business", "consumer"] and figure["layout"]["yaxis"]["autorange"] == "reversed"


def test_notes_and_titles_reach_the_interactive_view():
    rows = [{"region": f"r{i:03d}", "revenue": float(i)} for i in range(80)]
    chart = render_chart(rows, "bar", title="Revenue", x_axis="region", y_axis="revenue", interactive=True)
    assert chart.figure is not None
    assert chart.figure["layout"]["title"]["text"] == "Revenue"
    assert chart.figure["layout"]["title"]["subtitle"]["text"] == " · ".join(chart.notes)
    assert "top 50 of 80 categories" in chart.notes and len(chart.figure["data"][0]["x"]) == 50


@pytest.mark.parametrize("chart_type", ["bar", "line", "scatter", "histogram", "heatmap"])
def test_the_static_chart_alone_carries_no_figure(chart_type):
    ask = {"x_axis": "month", "y_axis": "segment", "value": "arpu"} if chart_type == "heatmap" else {}
    if chart_type == "scatter":
        ask = {"x_axis": "n", "y_axis": "arpu"}
    assert render_chart(ROWS, chart_type, title="t", **ask).figure is None
