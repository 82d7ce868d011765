"""`create_visualization`: a chart of rows, a saved session table or an analysis table."""

import asyncio
import base64
from typing import Annotated, Any, Literal

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel, Field

from analyses.charts import ChartError, render_chart
from analyses.registry import analysis_types
from mcp_server.analysis_runner import analyze, answer_freshness
from mcp_server.context import AppContext, app_context
from mcp_server.errors import InputValidationError
from mcp_server.freshness import Freshness
from mcp_server.observability.tracing import span
from mcp_server.resources.chart_view import CHART_VIEW_URI
from mcp_server.security.session_access import authorize_session
from mcp_server.sessions.saved_table import table_data
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY

DESCRIPTION = """Draw a chart and get it as an image (base64 plus an inline image block for png/svg;
html is one self-contained file). chart_type: bar | line | scatter | histogram | heatmap.
data: rows ([{"month": "2026-01-01", "arpu": 12.3}, ...]), column arrays ({"month": [...], "arpu": [...]}),
a query result ({"columns": [...], "rows": [...]}), a session table {"session_id": ..., "key": ...}, or an
analysis table {"analysis_type": "churn_rate", "data_source": "warehouse", "table": "by_segment",
"parameters": {}}. x_axis / y_axis name columns (y_axis may be a list for several series); heatmaps
also take `value`. Hosts with MCP Apps also show the chart interactively (hover, zoom, legend)."""


class Dimensions(BaseModel):
    width: int
    height: int


class VisualizationOutput(BaseModel):
    image: str = Field(description="Base64 of the PNG, SVG or HTML bytes")
    format: Literal["png", "svg", "html"]
    dimensions: Dimensions
    mime_type: str
    freshness: Freshness | None = Field(
        default=None, description="For a chart of an analysis of warehouse data: how fresh its marts are"
    )
    figure: dict[str, Any] | None = Field(
        default=None,
        description="The same chart as a Plotly figure (data + layout), for hosts that negotiated MCP Apps",
    )


async def _resolve(app: AppContext, data: Any) -> tuple[Any, Freshness | None]:
    """Turn a reference into rows, with the freshness of the marts behind them when an analysis of
    warehouse data was drawn; plain rows and session tables pass through with none."""
    if isinstance(data, dict) and "session_id" in data and "key" in data:
        await authorize_session(app, str(data["session_id"]), write=False)
        return table_data(await app.sessions.read(str(data["session_id"]), str(data["key"]))), None
    if isinstance(data, dict) and "analysis_type" in data and "table" in data:
        if data["analysis_type"] not in analysis_types():
            raise InputValidationError(
                f"unknown analysis_type {str(data['analysis_type'])[:60]!r} in data",
                hint=f"use one of {', '.join(analysis_types())}",
            )
        source, analysis_type = str(data.get("data_source", "warehouse")), str(data["analysis_type"])
        answer = await analyze(app, source, analysis_type, dict(data.get("parameters") or {}))
        tables = answer.result.get("tables", {})
        if data["table"] not in tables:
            raise InputValidationError(
                f"the {data['analysis_type']} result has no table {data['table']!r}",
                hint=f"tables are: {', '.join(tables)}",
            )
        return tables[data["table"]], await answer_freshness(app, source, analysis_type, answer)
    return data, None


def register(server: MCPServer) -> None:
    @server.tool(
        name="create_visualization",
        title="Draw a chart",
        description=DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.CHART,
        meta={"ui": {"resourceUri": CHART_VIEW_URI}},
    )
    async def create_visualization(
        data: Annotated[
            list[dict[str, Any]] | dict[str, Any], Field(description="Rows, columns or a reference")
        ],
        chart_type: Literal["bar", "line", "scatter", "histogram", "heatmap"],
        title: Annotated[str, Field(min_length=1, max_length=200)],
        ctx: Context,
        x_axis: str | None = None,
        y_axis: str | list[str] | None = None,
        format: Literal["png", "svg", "html"] = "png",
        value: Annotated[
            str | None,
            Field(description="Heatmap cell value, or the column that splits bars/lines/points into series"),
        ] = None,
        width: Annotated[int, Field(ge=200, le=4000)] = 960,
        height: Annotated[int, Field(ge=200, le=4000)] = 540,
    ) -> Annotated[CallToolResult, VisualizationOutput]:
        app = app_context(ctx)
        interactive = client_supports_apps(ctx)  # other hosts get exactly the static chart
        await ctx.report_progress(0, 3, "reading the data")
        rows, freshness = await _resolve(app, data)
        await ctx.report_progress(1, 3, f"rendering a {chart_type} chart as {format}")
        try:
            with span("chart render", **{"telcopulse.chart_type": chart_type, "telcopulse.format": format}):
                chart = await asyncio.to_thread(
                    render_chart,
                    rows,
                    chart_type,
                    title=title,
                    x_axis=x_axis,
                    y_axis=y_axis,
                    value=value,
                    format=format,
                    width=width,
                    height=height,
                    interactive=interactive,
                )
        except ChartError as exc:
            raise InputValidationError(str(exc)) from None
        await ctx.report_progress(3, 3, "done")
        encoded = base64.b64encode(chart.content).decode()
        output = VisualizationOutput(
            image=encoded,
            format=chart.format,
            dimensions=Dimensions(width=chart.width, height=chart.height),
            mime_type=chart.mime_type,
            freshness=freshness,
            figure=chart.figure,
        )
        notes = f" Notes: {'; '.join(chart.notes)}." if chart.notes else ""
        caption = TextContent(
            type="text",
            text=f"{chart_type} chart '{title}' ({chart.width}x{chart.height} {chart.format}).{notes}",
        )
        content: list[Any] = [caption]
        if chart.format in ("png", "svg"):
            content.insert(0, ImageContent(type="image", data=encoded, mime_type=chart.mime_type))
        # Absent rather than null when not from marts or not asked for: other hosts' results stay as before.
        structured = {key: value for key, value in output.model_dump().items() if value is not None}
        return CallToolResult(content=content, structured_content=structured)
