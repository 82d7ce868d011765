"""The SDK's `Mcp-Param-*` header check sees a schema only where one can matter (issue 13 cost).

`TelcopulseMCP._tool_input_schema` answers None for a tool whose input schema annotates no
`x-mcp-header`; these tests pin that this skips nothing the SDK would have rejected.
"""

from __future__ import annotations

from typing import Annotated

from mcp.shared.inbound import validate_mcp_param_headers
from pydantic import Field

from mcp_server.app import TelcopulseMCP, build_server
from warehouse.settings import Settings


def _server() -> TelcopulseMCP:
    return build_server(
        Settings(database_url="postgresql://x@127.0.0.1/x", redis_url="redis://127.0.0.1:1/0")
    )


def test_tools_without_header_annotations_skip_the_per_call_walk() -> None:
    server = _server()
    lookup = server._lowlevel_server.get_tool_input_schema
    names = [tool.name for tool in server._tool_manager.list_tools()]
    assert "query_database" in names
    headers = {"mcp-param-region": "north", "mcp-param-query": "SELECT 1"}
    for name in names:
        assert lookup(name) is None
        full = server._tool_manager.get_tool(name).parameters
        # What the SDK would have answered with the full schema: nothing to reject either.
        assert validate_mcp_param_headers(full, {"query": "SELECT 2", "region": "south"}, headers) is None
    assert lookup("no_such_tool") is None


def test_a_tool_with_a_header_annotation_keeps_its_schema_checked() -> None:
    server = _server()

    @server.tool(name="routed")
    async def routed(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
        return region

    schema = server._lowlevel_server.get_tool_input_schema("routed")
    assert schema is not None and schema["properties"]["region"]["x-mcp-header"] == "Region"
    rejection = validate_mcp_param_headers(schema, {"region": "south"}, {"mcp-param-region": "north"})
    assert rejection is not None  # header and argument disagree: the SDK still says so
