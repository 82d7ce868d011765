"""The official MCP conformance suite (`@modelcontextprotocol/conformance`) against `telcopulse serve`.

Run over streamable HTTP, on the scenarios a server without the suite's own fixtures can pass:
the core ones, and the four optional features a data server should have (logging levels,
completions, resource subscribe and unsubscribe). The others call tools, resources and prompts
that only the suite's reference server defines (`test_image_content`, `test://static-text`,
sampling, elicitation). The suite cannot send an API key, so this server runs without keys.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.mcp_helpers import free_port, running_server, server_env
from tests.node22 import node22_bin_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SUITE = "@modelcontextprotocol/conformance@0.1.16"
CORE = [
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-error",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
]
OPTIONAL = ["logging-set-level", "completion-complete", "resources-subscribe", "resources-unsubscribe"]


@pytest.fixture(scope="module")
def keyless_server(pipeline, redis_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("conformance")
    env = server_env(pipeline.database_url, redis_url, data_dir, TELCOPULSE_AUTH_REQUIRED="false")
    port = free_port()
    args = [str(ROOT / ".venv" / "bin" / "telcopulse"), "serve", "--transport", "http", "--port", str(port)]
    with running_server(args, env, f"http://127.0.0.1:{port}/healthz"):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.mark.parametrize("scenario", CORE + OPTIONAL)
def test_conformance_scenario_passes(keyless_server, scenario, tmp_path):
    env = {**os.environ, "PATH": f"{node22_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["npx", "-y", SUITE, "server", "--url", keyless_server, "--scenario", scenario],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert done.returncode == 0, output[-3000:]
    assert re.search(r"Passed: (\d+)/\1, 0 failed", output), output[-3000:]
