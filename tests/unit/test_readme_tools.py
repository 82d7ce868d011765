"""The README's MCP tool table names every tool the server has (the RBAC policy lists them all)."""

from __future__ import annotations

import re

from mcp_server.security.rbac import TOOL_POLICY
from warehouse.settings import PROJECT_ROOT


def test_every_tool_is_in_the_readme_table() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("| tool | what it does |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)\(", table, flags=re.MULTILINE))
    documented |= {
        name
        for row in re.findall(r"^\| (`[^|]*`) \|", table, flags=re.MULTILINE)
        for name in re.findall(r"`(\w+)\(", row)
    }
    assert set(TOOL_POLICY) <= documented, sorted(set(TOOL_POLICY) - documented)
