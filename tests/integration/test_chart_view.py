"""Interactive charts as an MCP App: the `ui://` chart view and the figure `create_visualization` hands it.

A host that negotiates the Apps extension (`io.modelcontextprotocol/ui` with the app MIME type)
reads the view, a self-contained HTML document, and gets each chart's Plotly figure in the tool
result; a host that does not gets today's result, byte for byte the same keys.
"""

from __future__ import annotations

import html.parser
import importlib.resources
import re

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from analyses.charts import render_chart
from mcp_server.app import build_server
from mcp_server.resources.chart_view import CHART_VIEW_URI
from tests.integration.mcp_helpers import mcp_settings, structured

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]

APPS_HOST = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
ROWS = [
    {"segment": segment, "month": f"2026-{m:02d}-01", "arpu": 10.0 + m + (4 if segment == "b" else 0)}
    for m in range(1, 5)
    for segment in ("a", "b")
]
BARS = {
    "data": ROWS,
    "chart_type": "bar",
    "title": "ARPU",
    "x_axis": "month",
    "y_axis": "arpu",
    "value": "segment",
}


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    return build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("apps")))


class _Markup(html.parser.HTMLParser):
    """Every tag with its attributes, and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_an_apps_host_gets_the_view_and_a_figure_of_the_same_data(server, mode):
    async with Client(server, mode=mode, extensions=APPS_HOST) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "create_visualization")
        result = await client.call_tool("create_visualization", BARS)
    assert tool.meta == {"ui": {"resourceUri": CHART_VIEW_URI}}
    assert not result.is_error
    body = structured(result)
    figure = body["figure"]
    # The figure is the static chart's own: the same prepared series the PNG is drawn from.
    static = render_chart(
        ROWS, "bar", title="ARPU", x_axis="month", y_axis="arpu", value="segment", interactive=True
    )
    assert figure == static.figure
    by_name = {trace["name"]: trace for trace in figure["data"]}
    assert by_name["a"]["x"] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert by_name["a"]["y"] == [11.0, 12.0, 13.0, 14.0] and by_name["b"]["y"] == [15.0, 16.0, 17.0, 18.0]
    assert result.content[0].type == "image" and body["format"] == "png"  # the static chart is still there


async def test_the_view_is_a_self_contained_app_document(server):
    async with Client(server, extensions=APPS_HOST) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        read = await client.read_resource(CHART_VIEW_URI)
    assert listed[CHART_VIEW_URI].mime_type == APP_MIME_TYPE
    (content,) = read.contents
    assert content.mime_type == APP_MIME_TYPE
    assert content.meta == {"ui": {"csp": {}, "prefersBorder": True}}  # no domain may be reached
    document = content.text
    markup = _Markup()
    markup.feed(document)
    library = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")
    # Every script is inline: plotly.js exactly as the package ships it, then the bridge.
    assert all("src" not in attrs for tag, attrs in markup.tags if tag == "script")
    assert markup.scripts[0] == library and len(markup.scripts) == 2
    # Outside plotly.js (whose map styles name tile servers never used here) there is no URL at all,
    # and the document's own policy forbids every fetch.
    rest = document.replace(library, "")
    assert not re.search(r"(?i)(https?:|wss?:|//[a-z0-9.-]+\.[a-z]{2,})", rest), rest
    assert not any(("href" in attrs or "src" in attrs) for _tag, attrs in markup.tags)
    policy = next(a["content"] for t, a in markup.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none';") and "connect-src" not in policy
    bridge = markup.scripts[1]
    assert "ui/initialize" in bridge and "ui/notifications/tool-result" in bridge
    assert "eval(" not in bridge and "innerHTML" not in bridge and "Function(" not in bridge


async def test_other_hosts_get_the_static_chart_unchanged(server):
    async with Client(server) as client:
        capabilities = client.server_capabilities
        result = await client.call_tool("create_visualization", BARS)
    body = structured(result)
    assert set(body) == {"image", "format", "dimensions", "mime_type"}
    assert result.content[0].type == "image"
    # The server advertises the extension all the same, for hosts that want it.
    assert EXTENSION_ID in (capabilities.extensions or {})


async def test_a_chart_of_warehouse_analysis_carries_the_marts_freshness(server):
    async with Client(server, read_timeout_seconds=120) as client:
        result = await client.call_tool(
            "create_visualization",
            {
                "data": {"analysis_type": "churn_rate", "data_source": "warehouse", "table": "by_segment"},
                "chart_type": "bar",
                "title": "Churn by segment",
            },
        )
    body = structured(result)
    freshness = body["freshness"]
    assert freshness["data_version"] and freshness["stale"] is False
    assert set(freshness["checks"]) >= {"fct_customer_churn_monthly"}
