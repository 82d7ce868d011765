"""The README's "Connect from Python" section, run as a newcomer would paste it, against the real
`telcopulse serve --transport http` (the README's URL and `$KEY` replaced by the test server's).

In the section's bash block, `# ` lines after a command are its output: a line ending in `…` is
a prefix, a lone `…` stands for further lines, and a `# exit N` comment is the exit status.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

README_URL = "http://127.0.0.1:8000/mcp"
EXAMPLE = PROJECT_ROOT / "examples" / "python_client.py"


@dataclass
class Run:
    command: str
    exit_code: int
    output: list[str] = field(default_factory=list)


def python_section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    return readme.split("### Connect from Python", 1)[1].split("\n## ", 1)[0]


def fenced(section: str, language: str) -> str:
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def readme_runs() -> list[Run]:
    runs: list[Run] = []
    for line in fenced(python_section(), "bash").splitlines():
        if line.startswith(".venv/bin/"):
            command, _, comment = line.partition(" #")
            exit_code = int(comment.split("exit", 1)[1]) if "exit" in comment else 0
            runs.append(Run(command.strip(), exit_code))
        elif line.startswith("# "):
            runs[-1].output.append(line[2:])
    return runs


def run_example(args: list[str], env_key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TELCOPULSE_API_KEY"}
    if env_key is not None:
        env["TELCOPULSE_API_KEY"] = env_key
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_output(expected: list[str], done: subprocess.CompletedProcess[str]) -> None:
    lines = (done.stdout + done.stderr).splitlines()
    shown = "\n".join(lines)
    for index, want in enumerate(expected):
        if want == "…":
            return
        assert index < len(lines), f"missing line {want!r} in:\n{shown}"
        if want.endswith("…"):
            assert lines[index].startswith(want[:-1]), f"{want!r} vs {lines[index]!r}"
        else:
            assert lines[index] == want
    assert len(lines) == len(expected), shown


def test_readme_python_commands_run(mcp_http):
    runs = readme_runs()
    assert [run.exit_code for run in runs] == [0, 1]
    outputs = []
    for run in runs:
        args = [arg.replace("$KEY", mcp_http.keys["ada"]) for arg in shlex.split(run.command)]
        assert args[:2] == [".venv/bin/python", "examples/python_client.py"]
        args = [arg.replace(README_URL, mcp_http.url) for arg in args[1:]]
        done = run_example(args)
        assert done.returncode == run.exit_code, f"{run.command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stdout + done.stderr
        assert_output(run.output, done)
        outputs.append(done.stdout)
    marts = [line.split(":", 1)[0] for line in outputs[0].splitlines()[1:]]
    assert marts == [
        "customer_features",
        "dim_customers",
        "fct_arpu_monthly",
        "fct_customer_churn_monthly",
        "fct_network_quality_by_hour",
        "fct_network_quality_daily",
        "fct_revenue_by_payment_method",
    ]


def test_the_key_may_come_from_the_environment(mcp_http):
    done = run_example(["examples/python_client.py", "--url", mcp_http.url], env_key=mcp_http.keys["alice"])
    assert done.returncode == 0, done.stderr
    assert "dim_customers: one row per customer" in done.stdout.splitlines()


def test_a_tool_error_is_one_line_too(mcp_http):
    """A viewer key connects but may not call list_marts: the tool's own error, not a traceback."""
    done = run_example(["examples/python_client.py", "--url", mcp_http.url, "--key", mcp_http.keys["victor"]])
    assert done.returncode == 1 and done.stdout.startswith("tools: ")
    assert done.stderr.startswith("telcopulse: Forbidden: ") and done.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("key", "line"),
    [
        (
            "tp_000000000000_" + "x" * 43,
            "telcopulse: invalid, expired or revoked API key; ask an admin for a new one",
        ),
        (
            "",
            "telcopulse: missing API key: send it in the X-API-Key header (or Authorization: Bearer)",
        ),
    ],
)
def test_a_refused_key_is_one_line_and_exit_1(mcp_http, key, line):
    done = run_example(["examples/python_client.py", "--url", mcp_http.url, "--key", key])
    assert (done.returncode, done.stdout, done.stderr) == (1, "", line + "\n")


def test_an_unreachable_server_is_one_line():
    url = "http://127.0.0.1:1/mcp"
    done = run_example(["examples/python_client.py", "--url", url, "--key", "whatever"])
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"telcopulse: cannot reach {url}: ") and done.stderr.count("\n") == 1


def test_readme_inline_lines_are_the_examples():
    """The README's excerpt is copied from the file, so it cannot drift from what the test runs."""
    source = {line.strip() for line in EXAMPLE.read_text().splitlines()}
    excerpt = [line.strip() for line in fenced(python_section(), "python").splitlines()]
    assert [line for line in excerpt if line and line != "..." and line not in source] == []
