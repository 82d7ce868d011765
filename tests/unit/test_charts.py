"""Chart engine behind create_visualization: every type renders in every format at the exact size,
agent-shaped data is accepted, mistakes come back as actionable ChartErrors, and concurrent renders
from worker threads stay independent."""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import re
import struct
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analyses import charts
from analyses.charts import (
    Chart,
    ChartError,
    histogram_bins,
    humanise,
    prepare_bar,
    render_chart,
    to_frame,
    value_labels,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"

REGIONS = ["North", "South", "East", "West", "Central"]


def _rows(seed: int = 0, months: int = 6) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "month": f"2025-{m:02d}-01",
            "region": region,
            "revenue": float(rng.uniform(1_000, 900_000)),
            "avg_quality_score": float(rng.uniform(1, 5)),
        }
        for m in range(1, months + 1)
        for region in REGIONS
    ]


CASES = {
    "bar": {"x_axis": "region", "y_axis": "revenue"},
    "line": {"x_axis": "month", "y_axis": "revenue"},
    "scatter": {"x_axis": "revenue", "y_axis": "avg_quality_score", "value": "region"},
    "histogram": {"x_axis": "avg_quality_score"},
    "heatmap": {"x_axis": "month", "y_axis": "region", "value": "avg_quality_score"},
}


def png_size(content: bytes) -> tuple[int, int]:
    assert content.startswith(PNG_SIGNATURE)
    assert content[12:16] == b"IHDR"
    return struct.unpack(">II", content[16:24])


def svg_comments(content: bytes) -> list[str]:
    """Matplotlib draws text as paths and keeps each string in a comment just before it."""
    return [m.strip() for m in re.findall(r"<!-- (.*?) -->", content.decode("utf-8"))]


# ------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("fmt", ["png", "svg", "html"])
@pytest.mark.parametrize("chart_type", list(CASES))
def test_every_chart_type_renders_in_every_format(chart_type, fmt) -> None:
    title = f"Telco <{chart_type}> & friends"
    chart = render_chart(
        _rows(), chart_type, title=title, format=fmt, width=640, height=360, **CASES[chart_type]
    )
    assert isinstance(chart, Chart)
    assert (chart.format, chart.width, chart.height) == (fmt, 640, 360)
    assert chart.mime_type == {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}[fmt]
    if fmt == "png":
        assert png_size(chart.content) == (640, 360)
    elif fmt == "svg":
        root = ET.fromstring(chart.content)
        assert root.tag == f"{SVG_NS}svg"
        assert (root.get("width"), root.get("height")) == ("640px", "360px")
        assert root.findtext(f"{SVG_NS}title") == title
    else:
        text = chart.content.decode("utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert "<svg" in text
        assert "<title>Telco &lt;" in text and f"<h1>Telco &lt;{chart_type}&gt; &amp; friends</h1>" in text
        assert title not in text  # only ever escaped
        assert "<script" not in text.lower()
        assert "<link" not in text.lower()
        assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", text)
        assert "<details>" in text and "<table>" in text


@pytest.mark.parametrize(("width", "height"), [(200, 200), (333, 777), (1001, 999), (4000, 210)])
def test_png_is_exactly_the_requested_size(width, height) -> None:
    chart = render_chart(_rows(), "bar", title="Size", width=width, height=height, **CASES["bar"])
    assert png_size(chart.content) == (width, height)


def test_svg_title_is_literal_text_even_with_dollars() -> None:
    chart = render_chart(_rows(), "line", title="ARPU $ per $ month", format="svg", **CASES["line"])
    assert "ARPU $ per $ month" in svg_comments(chart.content)


def test_html_escapes_data_and_inlines_everything() -> None:
    rows = [{"cell": "<script>alert(1)</script>", "drops": 3}, {"cell": "A & B", "drops": 1}]
    text = render_chart(rows, "bar", title="Drops", x_axis="cell", y_axis="drops", format="html").content
    html = text.decode("utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "default-src 'none'" in html  # CSP: the page may not fetch anything
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


# ----------------------------------------------------------------------------------- to_frame


def test_to_frame_accepts_the_four_shapes() -> None:
    records = [{"region": "North", "revenue": 10.0}, {"region": "South", "revenue": 20.0}]
    expected = pd.DataFrame(records)
    shapes = [
        records,
        {"region": ["North", "South"], "revenue": [10.0, 20.0]},
        {
            "columns": [{"name": "region", "type": "text"}, {"name": "revenue", "type": "float8"}],
            "rows": records,
            "row_count": 2,
            "truncated": False,
        },
        {"columns": ["region", "revenue"], "rows": [["North", 10.0], ["South", 20.0]]},
        expected.copy(),
    ]
    for shape in shapes:
        pd.testing.assert_frame_equal(to_frame(shape), expected, check_dtype=False)


def test_to_frame_trusts_declared_numeric_types_and_decimals() -> None:
    frame = to_frame(
        {
            "columns": [{"name": "score", "type": "numeric"}, {"name": "day", "type": "date"}],
            "rows": [{"score": "NaN", "day": "2025-01-01"}, {"score": 1.5, "day": "2025-01-02"}],
        }
    )
    assert frame["score"].isna().tolist() == [True, False]
    assert to_frame([{"v": decimal.Decimal("1.25")}])["v"].dtype == float


def test_to_frame_keeps_a_meaningful_index() -> None:
    frame = to_frame(pd.Series([1, 2], index=pd.Index(["a", "b"], name="segment"), name="n").to_frame())
    assert list(frame.columns) == ["segment", "n"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("region,revenue", "got str"),
        (42, "got int"),
        ([["North", 10]], "for list rows pass"),
        ({"a": [1, 2], "b": [1]}, "same length; got a=2, b=1"),
        ({"a": 1}, "must be a list of values"),
        ({"columns": ["a", "b"], "rows": [[1]]}, "row 0 has 1 values but there are 2 columns"),
        ({"columns": [{"type": "int4"}], "rows": [[1]]}, '"name"'),
        ({"columns": ["a"], "rows": [[1], {"a": 2}]}, "all be objects or all be lists"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "repeated: a"),
    ],
)
def test_to_frame_rejects_bad_shapes(data, message) -> None:
    with pytest.raises(ChartError, match=re.escape(message)):
        to_frame(data)


# --------------------------------------------------------------------------------- ChartErrors


def test_unknown_column_lists_the_available_ones() -> None:
    with pytest.raises(ChartError) as caught:
        render_chart(_rows(), "bar", title="t", x_axis="regoin", y_axis="revenue")
    message = str(caught.value)
    assert "'regoin'" in message and "x_axis" in message
    assert "month, region, revenue, avg_quality_score" in message
    assert "Did you mean 'region'" in message


def test_column_names_match_case_insensitively() -> None:
    chart = render_chart(_rows(), "bar", title="t", x_axis="Region", y_axis="REVENUE", format="svg")
    assert "Region" in svg_comments(chart.content)


def test_non_numeric_y_for_line_names_the_numeric_columns() -> None:
    with pytest.raises(ChartError, match=r"'region' must be numeric for a line chart's y axis") as caught:
        render_chart(_rows(), "line", title="t", x_axis="month", y_axis="region")
    assert "numeric columns: revenue, avg_quality_score" in str(caught.value)


@pytest.mark.parametrize("data", [[], {}, {"columns": ["a"], "rows": []}, pd.DataFrame()])
def test_empty_data_is_an_error(data) -> None:
    with pytest.raises(ChartError, match="data is empty"):
        render_chart(data, "bar", title="t")


@pytest.mark.parametrize(("width", "height"), [(199, 500), (500, 4001), (0, 0), (960.0, 540), (True, 540)])
def test_size_out_of_range(width, height) -> None:
    with pytest.raises(ChartError, match="from 200 to 4000"):
        render_chart(_rows(), "bar", title="t", width=width, height=height, **CASES["bar"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chart_type": "pie"}, "unknown chart_type 'pie'; choose one of bar, line"),
        ({"chart_type": "bar", "format": "jpeg"}, "unknown format 'jpeg'"),
        ({"chart_type": "bar", "max_categories": 0}, "max_categories"),
        ({"chart_type": "histogram", "x_axis": "region"}, "'region' must be numeric for a histogram"),
        ({"chart_type": "scatter", "x_axis": "month", "y_axis": "revenue"}, "must be numeric"),
        ({"chart_type": "heatmap", "x_axis": "month", "value": "revenue"}, "needs y_axis too"),
        ({"chart_type": "line", "y_axis": [f"c{i}" for i in range(9)]}, "unknown column 'c0'"),
    ],
)
def test_other_mistakes_are_chart_errors(kwargs, message) -> None:
    with pytest.raises(ChartError, match=re.escape(message)):
        render_chart(_rows(), title="t", **kwargs)


def test_too_many_rows_asks_to_aggregate() -> None:
    with pytest.raises(ChartError, match="aggregate first"):
        render_chart({"x": np.zeros(charts.MAX_ROWS + 1)}, "histogram", title="t")


def test_heatmap_with_too_many_categories_fails_with_advice() -> None:
    data = {"a": [f"a{i}" for i in range(12)], "b": ["x"] * 12, "v": list(range(12))}
    with pytest.raises(ChartError, match="x axis has 12 categories \\(max 10\\); filter or bucket"):
        render_chart(data, "heatmap", title="t", x_axis="a", y_axis="b", value="v", max_categories=10)


# ----------------------------------------------------------------------------------- semantics


def test_bar_sorts_categories_by_value_descending() -> None:
    data = {"segment": ["b", "a", "c", "d"], "customers": [20, 5, 40, 10]}
    bars = prepare_bar(to_frame(data), "segment", "customers")
    assert bars.labels == ["c", "b", "d", "a"]
    assert bars.series["customers"].tolist() == [40, 20, 10, 5]
    chart = render_chart(data, "bar", title="t", x_axis="segment", y_axis="customers", format="svg")
    drawn = [c for c in svg_comments(chart.content) if c in {"a", "b", "c", "d"}]
    assert drawn == ["c", "b", "d", "a"]


def test_bar_keeps_top_n_and_says_so() -> None:
    data = {"cell": [f"cell{i:02d}" for i in range(12)], "drops": list(range(12))}
    bars = prepare_bar(to_frame(data), "cell", "drops", max_categories=5)
    assert bars.labels == ["cell11", "cell10", "cell09", "cell08", "cell07"]
    chart = render_chart(
        data, "bar", title="t", x_axis="cell", y_axis="drops", max_categories=5, format="svg"
    )
    assert chart.notes == ("top 5 of 12 categories",)
    comments = svg_comments(chart.content)
    assert "top 5 of 12 categories" in comments
    assert "cell06" not in comments


def test_bar_with_ordinal_or_temporal_x_keeps_natural_order() -> None:
    hours = prepare_bar(to_frame({"hour": [3, 1, 2], "calls": [9, 1, 5]}), "hour", "calls")
    assert hours.labels == ["1", "2", "3"] and hours.kind == "number"
    months = {"month": ["2025-03-01", "2025-01-01", "2025-02-01", "2024-12-01"], "n": [1, 2, 3, 4]}
    latest = prepare_bar(to_frame(months), "month", "n", max_categories=3)
    assert latest.labels == ["2025-01", "2025-02", "2025-03"]  # monthly data reads as months
    assert latest.notes == ("latest 3 of 4",)
    days = prepare_bar(to_frame([{"d": dt.date(2025, 1, 2)}, {"d": dt.date(2025, 1, 1)}]), "d", None)
    assert days.labels == ["2025-01-01", "2025-01-02"]


def test_bar_without_y_counts_rows_and_means_duplicates() -> None:
    frame = to_frame({"plan": ["a", "b", "a", "a", None], "arpu": [10, 30, 20, None, 5]})
    counts = prepare_bar(frame, "plan", None)
    assert counts.labels == ["a", "b"] and counts.series == {"Count": pytest.approx(np.array([3.0, 1.0]))}
    means = prepare_bar(frame, "plan", "arpu")
    assert means.labels == ["b", "a"] and means.series["arpu"].tolist() == [30.0, 15.0]
    assert "1 row without plan dropped" in means.notes
    assert "1 missing y value dropped" in means.notes


def test_grouped_bars_keep_every_series() -> None:
    frame = to_frame({"r": ["x", "y"], "a": [1, 2], "b": [3, 4]})
    bars = prepare_bar(frame, "r", ["a", "b"])
    assert list(bars.series) == ["a", "b"] and bars.labels == ["y", "x"]


def test_value_splits_long_rows_into_one_series_per_group() -> None:
    rows = [
        {"month": f"2025-0{m}-01", "plan": plan, "churned": m * (2 if plan == "Prepaid" else 1)}
        for m in (1, 2, 3)
        for plan in ("Prepaid", "Business")
    ]
    bars = prepare_bar(to_frame(rows), "month", "churned", value="plan")
    assert list(bars.series) == ["Business", "Prepaid"]
    assert bars.series["Prepaid"].tolist() == [2, 4, 6] and bars.labels == ["2025-01", "2025-02", "2025-03"]
    assert (bars.y_label, bars.legend_title) == ("Churned", "Plan")
    counts = prepare_bar(to_frame(rows), "plan", None, value="month")
    assert counts.series == {
        m: pytest.approx(np.array([1.0, 1.0])) for m in ("2025-01", "2025-02", "2025-03")
    }
    chart = render_chart(
        rows, "line", title="t", x_axis="month", y_axis="churned", value="plan", format="svg"
    )
    assert {"Plan", "Business", "Prepaid"} <= set(svg_comments(chart.content))
    many = [{"day": d, "cell": f"c{i}", "drops": i} for d in (1, 2) for i in range(9)]
    with pytest.raises(ChartError, match="cell has 9 distinct values but at most 8 series"):
        render_chart(many, "line", title="t", x_axis="day", y_axis="drops", value="cell")


def test_series_rows_without_an_x_are_dropped_with_a_note() -> None:
    rows = [
        {"month": "2025-01", "plan": "a", "churned": 1},
        {"month": "2025-02", "plan": None, "churned": 2},
        {"month": "2025-02", "plan": "a", "churned": 3},
        {"month": None, "plan": "b", "churned": 4},  # group b has no row with a month
    ]
    chart = render_chart(
        rows, "line", title="t", x_axis="month", y_axis="churned", value="plan", format="svg"
    )
    assert chart.notes == ("1 row without plan dropped", "1 row without month dropped")
    assert "a" in svg_comments(chart.content) and "b" not in svg_comments(chart.content)


def test_missing_markers_from_json_do_not_turn_numbers_into_text() -> None:
    rows = [{"d": "2025-01-01", "v": 1.5}, {"d": "2025-01-02", "v": "NaN"}, {"d": "2025-01-03", "v": "3"}]
    chart = render_chart(rows, "line", title="t")  # y inferred: "v" still counts as numeric
    assert chart.notes == ("1 missing y value dropped",)


def test_line_infers_numeric_series_and_notes_dropped_values() -> None:
    data = {"day": ["2025-01-03", "2025-01-01", "2025-01-02"], "a": [1, None, 3], "b": [4, 5, 6]}
    chart = render_chart(data, "line", title="Lines", format="svg")
    comments = svg_comments(chart.content)
    assert {"A", "B"} <= set(comments)  # legend entries, humanised
    assert chart.notes == ("1 missing y value dropped",)


def test_scatter_merges_small_groups_into_other() -> None:
    rng = np.random.default_rng(3)
    data = {"x": rng.normal(size=300), "y": rng.normal(size=300), "g": [f"g{i % 11}" for i in range(300)]}
    chart = render_chart(data, "scatter", title="t", x_axis="x", y_axis="y", value="g", format="svg")
    assert chart.notes == ("4 smaller g groups merged into Other",)
    assert "Other" in svg_comments(chart.content)


def test_histogram_bins_follow_auto_and_are_capped() -> None:
    normal = np.random.default_rng(4).normal(size=1_000)
    assert len(histogram_bins(normal)) - 1 == len(np.histogram_bin_edges(normal, bins="auto")) - 1
    with_outlier = np.append(np.random.default_rng(5).normal(size=10_000), 1e9)
    assert len(histogram_bins(with_outlier)) - 1 == charts.HISTOGRAM_MAX_BINS
    assert histogram_bins(np.array([2.0, 2.0])).tolist() == [1.5, 2.5]


def test_heatmap_wide_and_long_forms() -> None:
    wide = {"segment": ["Prepaid", "Postpaid"], "Jan": [1.0, 2.0], "Feb": [3.0, None]}
    chart = render_chart(wide, "heatmap", title="Wide", format="svg")
    comments = svg_comments(chart.content)
    assert {"Prepaid", "Postpaid", "Jan", "Feb", "1", "3"} <= set(comments)
    assert chart.notes == ("1 empty cell",)
    long = {"x": ["a", "a", "b"], "y": ["p", "p", "q"], "v": [1.0, 4.0, 5.5]}
    chart = render_chart(long, "heatmap", title="Long", x_axis="x", y_axis="y", value="v", format="svg")
    assert "2.50" in svg_comments(chart.content)  # mean of the repeated (a, p) pair
    assert "cells show the mean of repeated x/y pairs" in chart.notes


def test_labels_and_numbers_read_well() -> None:
    assert humanise("avg_quality_score") == "Avg quality score"
    assert humanise("ARPU_usd") == "ARPU usd"
    assert value_labels([1234567.0, 89.0]) == ["1,234,567", "89"]
    assert value_labels([0.081, 0.0007, float("nan")]) == ["0.0810", "0.0007", ""]
    formatter = charts._NumberFormatter()
    assert formatter.format_ticks([0.0, 250_000.0, 500_000.0]) == ["0", "250,000", "500,000"]
    assert formatter.format_ticks([0.0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    assert charts._NumberFormatter(group_from=10_000).format_ticks([2024.0, 2025.0]) == ["2024", "2025"]


# ------------------------------------------------------------------------------ thread safety


def test_module_never_touches_pyplot_or_global_rcparams() -> None:
    tree = ast.parse(Path(charts.__file__).read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any("pyplot" in name for name in imported)
    before = dict(matplotlib.rcParams)
    render_chart(_rows(), "heatmap", title="rc", format="svg", **CASES["heatmap"])
    assert dict(matplotlib.rcParams) == before


def test_no_module_of_the_package_touches_pyplot() -> None:
    """The package is split into modules; the rule holds for each, not only for `__init__`."""
    modules = sorted(Path(charts.__file__).parent.glob("*.py"))
    assert len(modules) > 1
    for path in modules:
        tree = ast.parse(path.read_text())
        imported = {
            alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not any("pyplot" in name for name in imported), path.name
        touched = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        assert not touched & {"rcParams", "rc", "rc_context"}, path.name


def _job(i: int) -> tuple[str, Chart]:
    chart_type = list(CASES)[i % len(CASES)]
    rng = np.random.default_rng(i)
    rows = [
        {
            "k": f"job{i:02d}-cat{j % 4}",
            "j": f"job{i:02d}-row{j % 3}",
            "x": float(rng.normal()),
            "y": float(rng.normal() * 1000),
        }
        for j in range(60)
    ]
    kwargs = {
        "bar": {"x_axis": "k", "y_axis": "y"},
        "line": {"x_axis": "x", "y_axis": "y"},
        "scatter": {"x_axis": "x", "y_axis": "y", "value": "k"},
        "histogram": {"x_axis": "y"},
        "heatmap": {"x_axis": "k", "y_axis": "j", "value": "y"},
    }[chart_type]
    title = f"Job {i:02d} $ title"
    fmt = "png" if i % 2 == 0 else "svg"
    return title, render_chart(
        rows, chart_type, title=title, format=fmt, width=400 + 10 * i, height=300, **kwargs
    )


def test_concurrent_renders_do_not_interfere() -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_job, range(16)))
    titles = [title for title, _ in results]
    for i, (title, chart) in enumerate(results):
        if chart.format == "png":
            assert png_size(chart.content) == (400 + 10 * i, 300)
            if i < 6:  # same bytes as a render nobody raced with
                assert chart.content == _job(i)[1].content
        else:
            ET.fromstring(chart.content)
            comments = svg_comments(chart.content)
            assert title in comments
            assert not [t for t in titles if t != title and t in comments]
            assert not [c for c in comments if c.startswith("job") and not c.startswith(f"job{i:02d}")]
