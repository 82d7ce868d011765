"""The first hour, for real: `make up` on embedded services, then what a newcomer does next.

One `make up` (the README's quickstart command, as written) runs in a private data dir
with its own embedded PostgreSQL and Redis on free ports; the tests then run a second
`up`, clash on ports, use the CLI beside it, read `status`, and finally `stop` it and
check that no process of ours is left. The tests run in file order and share that one
start-up (about a minute of refresh on a small data set).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.integration.mcp_helpers import free_port, stop_group
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")
START_TIMEOUT = 600


def quickstart_commands() -> list[str]:
    """The commands of the README's quickstart block, comments stripped."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's quickstart has a ```bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def clean_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """A newcomer's shell: no URLs exported, our data dir and free ports."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DAGSTER_HOME", "DAGSTER_PG_URL"}
        and not key.startswith("TELCOPULSE_")
    }
    env.update(
        TELCOPULSE_DATA_DIR=str(data_dir),
        TELCOPULSE_CUSTOMERS="300",
        TELCOPULSE_MCP_PORT=str(ports["mcp"]),
        TELCOPULSE_DAGSTER_PORT=str(ports["dagster"]),
        TELCOPULSE_DOCS_PORT=str(ports["docs"]),
    )
    return env


@dataclass
class RunningUp:
    process: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str]
    ports: dict[str, int]
    stdout: Path
    stderr: Path

    def state(self) -> dict:
        return json.loads((self.data_dir / "state.json").read_text())

    def terminal_lines(self) -> list[str]:
        return self.stdout.read_text().splitlines() + self.stderr.read_text().splitlines()

    def cli(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [TELCOPULSE, *args],
            env=env or self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def data_builds(self) -> int:
        with psycopg.connect(self.state()["database_url"]) as conn:
            row = conn.execute("SELECT count(*) FROM ops.data_builds").fetchone()
        return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def running_up() -> Iterator[RunningUp]:
    # Not under pytest's 0700 tmp folders: the embedded PostgreSQL runs as its own OS user
    # when we are root, and must be able to reach its data folder.
    data_dir = Path(tempfile.mkdtemp(prefix="tp-up-", dir="/tmp"))
    data_dir.chmod(0o755)
    ports = {"mcp": free_port(), "dagster": free_port(), "docs": free_port()}
    env = clean_env(data_dir, ports)
    make_up = quickstart_commands()[0]
    assert make_up == "make up"
    stdout, stderr = data_dir.parent / f"{data_dir.name}.out", data_dir.parent / f"{data_dir.name}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            make_up.split(), cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err, start_new_session=True
        )
    up = RunningUp(process, data_dir, env, ports, stdout, stderr)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"`make up` exited with {process.returncode}:\n" + "\n".join(up.terminal_lines()))
            # Serving, and the banner printed after it (its last line says what runs): a
            # loaded machine can take a moment between the two.
            if (
                (data_dir / "state.json").exists()
                and up.state().get("stage") == "serving"
                and any("what runs:" in line for line in up.terminal_lines())
            ):
                break
            time.sleep(1)
        else:
            pytest.fail("`make up` did not reach serving in time:\n" + "\n".join(up.terminal_lines()))
        yield up
    finally:
        stop_group(process, timeout=90)
        subprocess.run([TELCOPULSE, "stop"], env=env, capture_output=True, check=False, timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)
        stdout.unlink(missing_ok=True)
        stderr.unlink(missing_ok=True)


def test_start_up_is_quiet_and_ends_with_one_banner(running_up: RunningUp) -> None:
    lines = running_up.terminal_lines()
    text = "\n".join(lines)
    assert len(lines) < 120, text
    for stage in (
        "[1/4] PostgreSQL (embedded)",
        "[2/4] schema: applied",
        "[3/4] refresh: 22 assets",
        "[4/4]",
    ):
        assert stage in text
    urls = running_up.state()["urls"]
    assert urls["mcp"] == f"http://127.0.0.1:{running_up.ports['mcp']}/mcp"
    for url in urls.values():
        assert url in text
    assert re.search(r"demo admin API key\s+tp_[0-9a-f]{12}_", text)
    assert "@modelcontextprotocol/inspector@" in text
    assert f"full log                      {running_up.data_dir}/logs/up.log" in text
    assert "Traceback" not in text and "DEBUG" not in text and "Warning" not in text
    log = (running_up.data_dir / "logs" / "up.log").read_text()
    assert "ASSET_MATERIALIZATION" in log  # Dagster's event stream went to the log, not the terminal


def test_state_file_is_private_and_names_live_processes(running_up: RunningUp) -> None:
    path = running_up.data_dir / "state.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = running_up.state()
    assert state["embedded"] == ["postgres", "redis"]
    assert state["redis_url"] == f"unix://{running_up.data_dir}/redis.sock"
    assert f"host={running_up.data_dir}/pg" in state["database_url"]
    for pid in [state["pid"], state["postgres_pid"], state["redis_pid"], *state["child_pids"]]:
        assert psutil.pid_exists(pid), pid


def test_dagster_ui_opens_without_the_community_pop_up(running_up: RunningUp) -> None:
    answer = httpx.post(
        f"{running_up.state()['urls']['dagster']}/graphql", json={"query": "{ shouldShowNux }"}, timeout=30
    )
    assert answer.json() == {"data": {"shouldShowNux": False}}


def test_a_second_make_up_is_refused_without_touching_the_warehouse(running_up: RunningUp) -> None:
    builds = running_up.data_builds()
    done = subprocess.run(
        ["make", "up"], cwd=PROJECT_ROOT, env=running_up.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    pid = running_up.state()["pid"]
    assert f"`telcopulse up` is already running for {running_up.data_dir} (pid {pid}" in done.stderr
    assert f"MCP server: http://127.0.0.1:{running_up.ports['mcp']}/mcp" in done.stderr
    assert "nothing was changed" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert running_up.data_builds() == builds
    assert running_up.process.poll() is None  # the first one still serves


def test_taken_ports_are_named_with_the_setting_that_moves_them(
    running_up: RunningUp, tmp_path: Path
) -> None:
    other = clean_env(tmp_path / "other", running_up.ports)
    done = running_up.cli("up", env=other)
    assert done.returncode == 1
    mcp = running_up.ports["mcp"]
    assert (
        f"port {mcp} on 127.0.0.1 is already in use, so the MCP server cannot start: stop what listens "
        f"there, or pick another port with TELCOPULSE_MCP_PORT=<port>"
    ) in done.stderr
    assert "TELCOPULSE_DAGSTER_PORT" in done.stderr and "TELCOPULSE_DOCS_PORT" in done.stderr
    assert not (tmp_path / "other" / "pg").exists()  # refused before starting anything

    for args, setting in [
        (["serve", "--transport", "http", "--port", str(mcp)], "TELCOPULSE_MCP_PORT"),
        (["ui", "--port", str(running_up.ports["dagster"])], "TELCOPULSE_DAGSTER_PORT"),
        (["docs", "--port", str(running_up.ports["docs"])], "TELCOPULSE_DOCS_PORT"),
    ]:
        done = running_up.cli(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert f"pick another port with {setting}=<port> (or --port <port>)" in done.stderr
        assert "`telcopulse up`, pid" in done.stderr
        assert "Traceback" not in done.stderr


def test_cli_beside_up_finds_its_services(running_up: RunningUp) -> None:
    done = running_up.cli("keys", "list")
    assert done.returncode == 0, done.stderr
    assert "demo-admin" in done.stdout
    assert (
        f"using the PostgreSQL and Redis of the running `telcopulse up` (pid {running_up.state()['pid']}), "
        f"from {running_up.data_dir}/state.json"
    ) in done.stderr

    done = running_up.cli("imports")
    assert done.returncode == 0, done.stderr


def test_status_lists_what_runs_with_the_data_version(running_up: RunningUp) -> None:
    done = running_up.cli("status")
    assert done.returncode == 0, done.stderr
    state = running_up.state()
    assert f"`telcopulse up` is running for {running_up.data_dir}: pid {state['pid']}" in done.stdout
    assert f"PostgreSQL (embedded, pid {state['postgres_pid']})" in done.stdout
    assert (
        f"Redis (embedded, pid {state['redis_pid']}): unix://{running_up.data_dir}/redis.sock" in done.stdout
    )
    assert re.search(r"data version: [0-9a-f-]{36}:\d+, built \d{4}-\d\d-\d\d", done.stdout), done.stdout


def test_stop_leaves_no_process_of_ours(running_up: RunningUp) -> None:
    state = running_up.state()
    up = psutil.Process(running_up.process.pid)
    ours = {p.pid for p in [up, *up.children(recursive=True)]}
    ours |= {state["postgres_pid"], state["redis_pid"], *state["child_pids"]}
    done = running_up.cli("stop")
    assert done.returncode == 0, done.stderr
    assert f"stopped `telcopulse up` (pid {state['pid']})" in done.stdout
    assert "the embedded PostgreSQL and the embedded Redis" in done.stdout
    assert running_up.process.wait(timeout=60) == 0
    time.sleep(1)
    alive = [pid for pid in ours if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert alive == []
    strays = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(running_up.data_dir) in part for part in (p.info["cmdline"] or []))
    ]
    assert strays == []
    assert not (running_up.data_dir / "state.json").exists()

    again = running_up.cli("stop")
    assert again.returncode == 3
    assert f"NotRunning: nothing of telcopulse runs for {running_up.data_dir}" in again.stderr
    status = running_up.cli("status")
    assert status.returncode == 3
    assert "`make up` starts it" in status.stderr
