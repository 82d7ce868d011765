"""analyze_data and create_visualization through a real MCP client, on the precomputed
warehouse and on session data with foreign column names."""

from __future__ import annotations

import asyncio
import base64
import struct
import uuid
import xml.etree.ElementTree as ET

import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.query.executor import ReadOnlyExecutor
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from warehouse.db import connect

TYPES = ["churn_rate", "arpu", "network_quality", "correlation", "drivers"]


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    return build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("analyses")))


@pytest.fixture()
def input_queries(monkeypatch):
    """Counts the SQL reads of analysis inputs (every input goes through fetch_all)."""
    calls: list[str] = []
    original = ReadOnlyExecutor.fetch_all

    async def counting(self, sql, *args, **kwargs):
        calls.append(sql)
        return await original(self, sql, *args, **kwargs)

    monkeypatch.setattr(ReadOnlyExecutor, "fetch_all", counting)
    return calls


async def test_precomputed_analyses_are_served_from_cache_without_sql(server, input_queries):
    async with Client(server, read_timeout_seconds=120) as client:
        for analysis_type in TYPES:
            out = structured(
                await client.call_tool(
                    "analyze_data", {"data_source": "warehouse", "analysis_type": analysis_type}
                )
            )
            assert out["analysis_type"] == analysis_type
            assert out["metadata"]["cached"] is True, analysis_type
            assert out["metadata"]["data_source"] == "warehouse" and out["metadata"]["row_count"] > 0
            assert out["results"]["summary"] and out["results"]["tables"]
    assert input_queries == []


async def test_designed_signal_basic_churns_more_than_enterprise(server):
    async with Client(server, read_timeout_seconds=120) as client:
        out = structured(
            await client.call_tool(
                "analyze_data", {"data_source": "warehouse", "analysis_type": "churn_rate"}
            )
        )
    by_type = {
        r["segment"]: r
        for r in out["results"]["tables"]["by_segment"]
        if r["segment_column"] == "account_type"
    }
    assert by_type["Basic"]["churn_rate"] > by_type["Enterprise"]["churn_rate"]
    test = next(t for t in out["results"]["tests"] if "account_type" in t["name"])
    assert test["p_value"] < 0.01


async def test_new_build_misses_the_cache_and_recomputes(server, pipeline, input_queries):
    bump = f"test-analysis-bump-{uuid.uuid4().hex}"
    with connect(pipeline.database_url) as conn:
        conn.execute("INSERT INTO ops.data_builds (build_id, source) VALUES (%s, 'test')", (bump,))
        conn.commit()
    try:
        await asyncio.sleep(2.2)  # the server re-reads the data version at most every 2 s
        async with Client(server, read_timeout_seconds=120) as client:
            args = {
                "data_source": "warehouse",
                "analysis_type": "correlation",
                "parameters": {"method": "spearman"},
            }
            first = structured(await client.call_tool("analyze_data", args))
            assert first["metadata"]["cached"] is False and first["metadata"]["data_version"].startswith(bump)
            reads = len(input_queries)
            assert reads >= 1
            second = structured(await client.call_tool("analyze_data", args))
            assert second["metadata"]["cached"] is True and len(input_queries) == reads
            assert second["results"] == first["results"]
    finally:
        with connect(pipeline.database_url) as conn:
            conn.execute("DELETE FROM ops.data_builds WHERE build_id = %s", (bump,))
            conn.commit()


async def test_single_mart_as_data_source(server):
    async with Client(server, read_timeout_seconds=120) as client:
        out = structured(
            await client.call_tool(
                "analyze_data",
                {
                    "data_source": "fct_network_quality_daily",
                    "analysis_type": "correlation",
                    "parameters": {},
                },
            )
        )
    assert out["metadata"]["row_count"] > 1000
    assert out["results"]["tables"]["matrix"]


FOREIGN_ROWS = [
    {"customerID": f"m{i}", "Contract": "Month-to-month", "Churn": "Yes" if i < 40 else "No"}
    for i in range(100)
] + [{"customerID": f"y{i}", "Contract": "Two year", "Churn": "Yes" if i < 5 else "No"} for i in range(100)]


async def test_session_data_with_foreign_column_names(server):
    async with Client(server, read_timeout_seconds=120) as client:
        session = structured(
            await client.call_tool("session_create", {"data_source": "telco-kaggle", "access_level": "write"})
        )
        sid = session["session_id"]
        structured(
            await client.call_tool(
                "session_update", {"session_id": sid, "key": "telco", "value": FOREIGN_ROWS}
            )
        )
        out = structured(
            await client.call_tool(
                "analyze_data",
                {
                    "data_source": sid,
                    "analysis_type": "churn_rate",
                    "parameters": {
                        "session_key": "telco",
                        "churn_column": "Churn",
                        "positive_label": "Yes",
                        "segment_by": ["Contract"],
                    },
                },
            )
        )
        missing_key = await client.call_tool(
            "analyze_data", {"data_source": sid, "analysis_type": "churn_rate"}
        )
        await client.call_tool("session_close", {"session_id": sid, "archive": False})
    rates = {r["segment"]: r["churn_rate"] for r in out["results"]["tables"]["by_segment"]}
    assert rates["Month-to-month"] == pytest.approx(0.40) and rates["Two year"] == pytest.approx(0.05)
    assert out["results"]["tables"]["overall"][0]["churn_rate"] == pytest.approx(0.225)
    assert out["metadata"]["cached"] is False and out["metadata"]["data_version"] is None
    assert (
        missing_key.is_error
        and "session_key" in error_text(missing_key)
        and "telco" in error_text(missing_key)
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"data_source": "nowhere", "analysis_type": "arpu"},
            "ValidationError: unknown data_source 'nowhere'",
        ),
        ({"data_source": "warehouse", "analysis_type": "astrology"}, "ValidationError: analysis_type"),
        (
            {"data_source": "warehouse", "analysis_type": "correlation", "parameters": {"colums": ["age"]}},
            "ValidationError:",
        ),
        (
            {
                "data_source": "warehouse",
                "analysis_type": "correlation",
                "parameters": {"columns": ["location"]},
            },
            "ValidationError:",
        ),
    ],
)
async def test_bad_analysis_requests_are_validation_errors(server, arguments, expected):
    async with Client(server, read_timeout_seconds=120) as client:
        result = await client.call_tool("analyze_data", arguments)
    assert result.is_error and error_text(result).startswith(expected), error_text(result)
    assert "Traceback" not in error_text(result)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


ROWS = [{"month": f"2026-{m:02d}-01", "arpu": 10 + m, "churn": 0.01 * m} for m in range(1, 13)]


async def test_visualization_formats_and_image_block(server):
    async with Client(server, read_timeout_seconds=120) as client:
        png = await client.call_tool(
            "create_visualization",
            {
                "data": ROWS,
                "chart_type": "line",
                "title": "ARPU",
                "x_axis": "month",
                "y_axis": "arpu",
                "width": 800,
                "height": 400,
            },
        )
        svg = await client.call_tool(
            "create_visualization",
            {
                "data": {"month": [r["month"] for r in ROWS], "arpu": [r["arpu"] for r in ROWS]},
                "chart_type": "bar",
                "title": "ARPU bars",
                "x_axis": "month",
                "y_axis": "arpu",
                "format": "svg",
            },
        )
        html = await client.call_tool(
            "create_visualization",
            {
                "data": ROWS,
                "chart_type": "scatter",
                "title": "A & B",
                "x_axis": "arpu",
                "y_axis": "churn",
                "format": "html",
            },
        )
    out = structured(png)
    assert out["format"] == "png" and out["dimensions"] == {"width": 800, "height": 400}
    assert _png_size(base64.b64decode(out["image"])) == (800, 400)
    assert png.content[0].type == "image" and png.content[0].mime_type == "image/png"
    svg_out = structured(svg)
    assert ET.fromstring(base64.b64decode(svg_out["image"])).tag.endswith("svg")
    assert svg.content[0].type == "image" and svg.content[0].mime_type == "image/svg+xml"
    page = base64.b64decode(structured(html)["image"]).decode()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "A &amp; B" in page
    assert "<script src" not in page and "<link" not in page
    assert all(block.type != "image" for block in html.content)


async def test_visualization_of_references(server):
    async with Client(server, read_timeout_seconds=120) as client:
        from_analysis = await client.call_tool(
            "create_visualization",
            {
                "data": {"analysis_type": "churn_rate", "data_source": "warehouse", "table": "by_segment"},
                "chart_type": "bar",
                "title": "Churn by segment",
                "x_axis": "segment",
                "y_axis": "churn_rate",
            },
        )
        session = structured(
            await client.call_tool("session_create", {"data_source": "warehouse", "access_level": "write"})
        )
        await client.call_tool(
            "query_mart",
            {
                "mart": "fct_arpu_monthly",
                "columns": ["month", "sum(revenue)"],
                "group_by": ["month"],
                "session_id": session["session_id"],
                "save_as": "revenue",
            },
        )
        from_session = await client.call_tool(
            "create_visualization",
            {
                "data": {"session_id": session["session_id"], "key": "revenue"},
                "chart_type": "line",
                "title": "Revenue",
                "x_axis": "month",
                "y_axis": "sum_revenue",
            },
        )
        bad = await client.call_tool(
            "create_visualization",
            {"data": ROWS, "chart_type": "line", "title": "x", "x_axis": "month", "y_axis": "nope"},
        )
        await client.call_tool("session_close", {"session_id": session["session_id"], "archive": False})
    assert _png_size(base64.b64decode(structured(from_analysis)["image"])) == (960, 540)
    assert _png_size(base64.b64decode(structured(from_session)["image"])) == (960, 540)
    assert bad.is_error and error_text(bad).startswith("ValidationError:") and "arpu" in error_text(bad)


async def test_concurrent_charts_do_not_mix(server):
    async with Client(server, read_timeout_seconds=120) as client:
        titles = [f"Chart number {i}" for i in range(8)]
        results = await asyncio.gather(
            *(
                client.call_tool(
                    "create_visualization",
                    {
                        "data": ROWS,
                        "chart_type": "bar",
                        "title": t,
                        "x_axis": "month",
                        "y_axis": "arpu",
                        "format": "svg",
                    },
                )
                for t in titles
            )
        )
    for title, result in zip(titles, results, strict=True):
        text = base64.b64decode(structured(result)["image"]).decode()
        assert title in text
        assert all(other not in text for other in titles if other != title)
