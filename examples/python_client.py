"""Talk to the telcopulse MCP server from Python with the official MCP SDK (`pip install mcp==2.3.0`).

    python examples/python_client.py --url http://127.0.0.1:8000/mcp --key "$KEY"

Lists the tools your key may use and the curated marts (`list_marts`). The key may also come
from TELCOPULSE_API_KEY. A refused key prints the server's one-line reason and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client


async def show_marts(url: str, key: str) -> int:
    async with (
        httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = (await client.list_tools()).tools
        print("tools:", ", ".join(sorted(tool.name for tool in tools)))
        result = await client.call_tool("list_marts", {})
        if result.is_error:  # a tool's own error, e.g. Forbidden: its text says what to change
            print("telcopulse:", *(getattr(block, "text", "") for block in result.content), file=sys.stderr)
            return 1
        for mart in result.structured_content["marts"]:
            print(f"{mart['name']}: {mart['grain']}")
    return 0


def first(error: BaseException) -> BaseException:
    """The SDK raises from inside task groups: the error arrives wrapped in ExceptionGroups."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/mcp")
    parser.add_argument("--key", default=os.environ.get("TELCOPULSE_API_KEY", ""))
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(show_marts(args.url, args.key)))
    except* MCPError as refused:  # e.g. a wrong key: the server's reason is the message
        sys.exit(f"telcopulse: {first(refused)}")
    except* httpx2.TransportError as unreachable:
        sys.exit(f"telcopulse: cannot reach {args.url}: {first(unreachable)}")


if __name__ == "__main__":
    main()
