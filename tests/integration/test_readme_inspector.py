"""The README's MCP Inspector commands, run as a newcomer would paste them, against a real server.

Every command block under "### MCP Inspector" must pin the Inspector version of
telcopulse/connect.py and run: over HTTP with a real API key and over stdio, with a Node new
enough for the Inspector on PATH, and the `-p node@22` form with this machine's own Node. So do
the commands connect.py builds (the `make up` banner prints `inspector_http_command`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_server.security.rbac import TOOL_POLICY
from telcopulse.connect import (
    INSPECTOR_PACKAGE,
    INSPECTOR_VERSION,
    NODE_MIN_VERSION,
    STDIO_ARGS,
    inspector_http_command,
    inspector_stdio_command,
)
from telcopulse.state import InstanceLock, RunState, write_state
from tests.integration.conftest import TELCOPULSE
from tests.node22 import node22_bin_dir
from warehouse.db import as_url
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

SECTION = "### MCP Inspector"
README_URL = "http://127.0.0.1:8000/mcp"
README_SERVER = ".venv/bin/telcopulse"
ALL_TOOLS = set(TOOL_POLICY)  # what an admin key (the README's demo key) lists
ANALYST_TOOLS = {tool for tool, roles in TOOL_POLICY.items() if "analyst" in roles}  # the stdio user


def inspector_section(readme: str) -> str:
    """The README text from the Inspector heading to the next heading of level 2 or 3."""
    assert SECTION in readme, f"README has no {SECTION!r} section"
    body = readme.split(SECTION, 1)[1]
    end = re.search(r"^#{2,3} ", body, flags=re.MULTILINE)
    return body[: end.start()] if end else body


def shell_commands(section: str) -> list[str]:
    """Each command of the section's ```bash / ```sh blocks, continuation lines joined, comments dropped."""
    commands: list[str] = []
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL):
        joined = re.sub(r"\s*\\\n\s*", " ", block)
        commands += [
            line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
    return commands


def readme_commands() -> list[str]:
    return shell_commands(inspector_section((PROJECT_ROOT / "README.md").read_text()))


def _is_stdio(command: str) -> bool:
    return " -- " in command


def _is_bridge(command: str) -> bool:
    return " -p node@22 " in command


# ------------------------------------------------------------------ what the README says


def test_extractor_reads_fenced_blocks_only_under_the_heading() -> None:
    readme = (
        "## A\n```bash\nnot this\n```\n### MCP Inspector\ntext `npx x`\n"
        "```bash\n# a comment\nnpx a \\\n  --b c\n\nnpx d\n```\n```json\n{}\n```\n```sh\nnpx e -- f\n```\n"
        "### Next\n```bash\nnor this\n```\n"
    )
    assert shell_commands(inspector_section(readme)) == ["npx a --b c", "npx d", "npx e -- f"]


def test_readme_inspector_commands_are_the_pinned_ones() -> None:
    commands = readme_commands()
    assert [(_is_stdio(c), _is_bridge(c)) for c in commands] == [
        (False, False),  # tools/list over HTTP
        (False, False),  # tools/call over HTTP
        (False, True),  # tools/list over HTTP, Node older than 22.19
        (True, False),  # tools/list over stdio beside `make up`
        (True, False),  # tools/list over stdio with your own PostgreSQL and Redis
    ]
    for command in commands:
        argv = shlex.split(command)
        assert argv[:2] == ["npx", "-y"], command
        assert f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}" in argv, command
        assert [a for a in argv if a.startswith("@modelcontextprotocol/inspector")] == [INSPECTOR_PACKAGE], (
            command
        )
    # The banner's command (connect.py) and the README's agree token for token.
    assert shlex.split(commands[0]) == shlex.split(inspector_http_command(README_URL, "$KEY"))
    assert shlex.split(commands[2]) == shlex.split(
        inspector_http_command(README_URL, "$KEY", node_bridge=True)
    )
    for command in commands[3:]:
        stdio = shlex.split(command)
        separator = stdio.index("--")
        assert stdio[separator + 1 :] == [README_SERVER, "serve", "--transport", "stdio"], command
        assert "--method" in stdio[:separator], command  # Inspector flags before --, none after
    assert shlex.split(commands[3]) == shlex.split(inspector_stdio_command([README_SERVER, *STDIO_ARGS]))
    assert shlex.split(commands[4]) == shlex.split(
        inspector_stdio_command(
            [README_SERVER, *STDIO_ARGS], env={"DATABASE_URL": "$DATABASE_URL", "REDIS_URL": "$REDIS_URL"}
        )
    )


def test_readme_states_the_node_version() -> None:
    section = inspector_section((PROJECT_ROOT / "README.md").read_text())
    assert f"Node ≥ {NODE_MIN_VERSION}" in section
    assert "-p node@22" in section


# ------------------------------------------------------------------ running them


def _tool_names(output: str, command: str) -> set[str]:
    try:
        listed: dict[str, Any] = json.loads(output)
    except ValueError:
        pytest.fail(f"{command}\nprinted no JSON:\n{output[-3000:]}")
    return {tool["name"] for tool in listed["tools"]}


def _run(
    command: str, *, path: str, env: dict[str, str], expect_exit: int | None = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=PROJECT_ROOT,
        env={**env, "PATH": path},
        stdin=subprocess.DEVNULL,  # no terminal: the Inspector never waits for a person
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if expect_exit is not None:
        assert done.returncode == expect_exit, (
            f"{command}\nexit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


@pytest.fixture(scope="module")
def node22_path() -> str:
    """PATH with a Node new enough for the Inspector first."""
    return f"{node22_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture()
def shell_env(mcp_http, pipeline, redis_url: str) -> dict[str, str]:
    """What the README's reader has in their shell: an API key, and the URLs of their own services.

    The rest of this environment stays: npm needs it (its cache in HOME, a proxy or CA settings).
    """
    return {
        **os.environ,
        "KEY": mcp_http.keys["ada"],
        "DATABASE_URL": as_url(pipeline.database_url),
        "REDIS_URL": redis_url,
    }


@pytest.fixture()
def running_up(pipeline, redis_url: str, tmp_path: Path) -> Iterator[Path]:
    """A data dir as a running `make up` leaves it: its lock held, its state file naming the services."""
    data_dir = tmp_path / "up"
    lock = InstanceLock(data_dir)
    assert lock.acquire()
    state = RunState.new(data_dir, data_dir / "up.log")
    state.database_url, state.redis_url = as_url(pipeline.database_url), redis_url
    write_state(data_dir, state)
    try:
        yield data_dir
    finally:
        lock.release()


def _localize(command: str, mcp_url: str, data_dir: Path) -> str:
    """The README's command for this test's server: its URL, this venv's telcopulse, and for stdio
    the data dir of the (simulated) running `make up` instead of the repository's .telcopulse."""
    command = command.replace(README_URL, mcp_url).replace(README_SERVER, shlex.quote(TELCOPULSE))
    if _is_stdio(command):
        command = command.replace(
            " --cli ", f" --cli -e TELCOPULSE_DATA_DIR={shlex.quote(str(data_dir))} ", 1
        )
    return command


def test_readme_inspector_commands_run(
    mcp_http, shell_env: dict[str, str], node22_path: str, running_up: Path
) -> None:
    machine_path = os.environ.get("PATH", "")
    commands = readme_commands()
    assert len(commands) == 5
    for command in commands:
        local = _localize(command, mcp_http.url, running_up)
        # The plain form with a new enough Node, the -p node@22 form with this machine's own Node.
        done = _run(local, path=machine_path if _is_bridge(command) else node22_path, env=shell_env)
        if "--method tools/list" in command:
            expected = ANALYST_TOOLS if _is_stdio(command) else ALL_TOOLS
            assert _tool_names(done.stdout, command) == expected, command
        else:
            result = json.loads(done.stdout)
            assert result["isError"] is False, done.stdout
            page = result["structuredContent"]
            assert page["row_count"] == 3 and len(page["rows"]) == 3, done.stdout
            assert {"month", "arpu"} <= {c["name"] for c in page["columns"]}, done.stdout


def test_connect_commands_run(mcp_http, shell_env: dict[str, str], node22_path: str, tmp_path: Path) -> None:
    """What connect.py builds (the `make up` banner's line among them) runs, in both forms."""
    machine_path = os.environ.get("PATH", "")
    key = mcp_http.keys["ada"]
    for node_bridge, path in ((False, node22_path), (True, machine_path)):
        http = inspector_http_command(mcp_http.url, key, node_bridge=node_bridge)
        assert _tool_names(_run(http, path=path, env=shell_env).stdout, http) == ALL_TOOLS
        stdio = inspector_stdio_command(
            [TELCOPULSE, "serve", "--transport", "stdio"],
            env={
                "TELCOPULSE_DATA_DIR": str(tmp_path),
                "DATABASE_URL": shell_env["DATABASE_URL"],
                "REDIS_URL": shell_env["REDIS_URL"],
            },
            node_bridge=node_bridge,
        )
        assert _tool_names(_run(stdio, path=path, env=shell_env).stdout, stdio) == ANALYST_TOOLS
    resources = inspector_http_command(mcp_http.url, mcp_http.keys["alice"], method="resources/list")
    listed = json.loads(_run(resources, path=node22_path, env=shell_env).stdout)
    assert "schema://database/main" in {r["uri"] for r in listed["resources"]}


def test_a_wrong_key_is_refused(mcp_http, shell_env: dict[str, str], node22_path: str) -> None:
    """The runs above passed because of the key: with a wrong one the server answers 401 (and the
    Inspector, with no terminal to start an OAuth login in, gives up)."""
    command = inspector_http_command(mcp_http.url, "tp_wrong_key")
    done = _run(command, path=node22_path, env=shell_env, expect_exit=None)
    assert done.returncode != 0, done.stdout
    assert '"tools"' not in done.stdout
    assert "auth_required" in done.stdout + done.stderr
