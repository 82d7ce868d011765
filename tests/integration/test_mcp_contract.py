"""The published MCP contract, pinned: tools (names, descriptions, input and output schemas,
annotations), resources, resource templates and prompts, as a client lists them.

A refactor must leave it byte for byte as it is; a deliberate change regenerates the snapshot
(`TELCOPULSE_UPDATE_CONTRACT=1 .venv/bin/pytest tests/integration/test_mcp_contract.py`) and
shows up in review as a diff of tests/contracts/mcp_contract.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.app import build_server
from tests.integration.mcp_helpers import mcp_settings

SNAPSHOT = Path(__file__).parents[1] / "contracts" / "mcp_contract.json"


def _dump(items: Any) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", exclude_none=True, by_alias=True) for item in items]


async def _contract(server: Any) -> dict[str, Any]:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        prompts = (await client.list_prompts()).prompts
    return {
        "tools": sorted(_dump(tools), key=lambda item: item["name"]),
        "resources": sorted(_dump(resources), key=lambda item: item["uri"]),
        "resource_templates": sorted(_dump(templates), key=lambda item: item["uriTemplate"]),
        "prompts": sorted(_dump(prompts), key=lambda item: item["name"]),
    }


@pytest.mark.asyncio(loop_scope="session")
async def test_published_contract_matches_the_snapshot(empty_database_url, redis_url, tmp_path):
    server = build_server(mcp_settings(empty_database_url, redis_url, tmp_path))
    contract = await _contract(server)
    text = json.dumps(contract, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("TELCOPULSE_UPDATE_CONTRACT") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run once with TELCOPULSE_UPDATE_CONTRACT=1"
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == contract
    assert len(contract["tools"]) >= 9


@pytest.mark.asyncio(loop_scope="session")
async def test_every_tool_has_a_title_annotations_and_inline_icons(empty_database_url, redis_url, tmp_path):
    server = build_server(mcp_settings(empty_database_url, redis_url, tmp_path), local_role="admin")
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert {"cache_clear", "list_imports", "query_database"} <= {t.name for t in tools}
    for tool in tools:
        assert tool.title and tool.annotations is not None, tool.name
        assert tool.annotations.read_only_hint is not None, tool.name
        assert tool.icons and all(icon.src.startswith("data:image/svg+xml;base64,") for icon in tool.icons)
