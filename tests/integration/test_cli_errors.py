"""Commands run with nothing to talk to say what is wrong in one line, with a non-zero exit.

A newcomer who runs `telcopulse refresh` or `keys create` before `make up`, or against a
stopped server, gets the service, the address and what to do, never a stack trace, and
no failed run is left behind in the Dagster UI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")
CLOSED_PORT_URL = "postgresql://postgres@127.0.0.1:9/telcopulse"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TELCOPULSE, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def newcomer_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DAGSTER_HOME"} and not key.startswith("TELCOPULSE_")
    }
    return {**env, "TELCOPULSE_DATA_DIR": str(data_dir), **extra}


def test_refresh_against_a_stopped_postgres_is_one_line_and_no_run(tmp_path: Path, redis_url: str) -> None:
    done = run(["refresh"], newcomer_env(tmp_path, DATABASE_URL=CLOSED_PORT_URL, REDIS_URL=redis_url))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "[telcopulse] Unavailable: PostgreSQL at postgresql://postgres@127.0.0.1:9/telcopulse is not answering ("
    )
    assert "`make up` for the embedded services" in lines[0]
    assert not (tmp_path / "dagster_home").exists()  # refused before a Dagster run existed


def test_keys_create_before_make_up_says_how_to_start(tmp_path: Path) -> None:
    done = run(["keys", "create", "--name", "me", "--role", "analyst"], newcomer_env(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        f"DATABASE_URL is not set and no `telcopulse up` is running for {tmp_path}: run `make up`"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["refresh"], ["generate", "--customers", "10"], ["imports"], ["migrate"]])
def test_commands_without_a_warehouse_name_the_fix(tmp_path: Path, args: list[str]) -> None:
    done = run(args, newcomer_env(tmp_path))
    assert done.returncode == 1, done.stdout
    assert "NotConfigured: DATABASE_URL is not set and no `telcopulse up` is running" in done.stderr
    assert "Traceback" not in done.stderr


def test_keys_list_against_a_stopped_postgres_is_unavailable(tmp_path: Path) -> None:
    done = run(["keys", "list"], newcomer_env(tmp_path, DATABASE_URL=CLOSED_PORT_URL))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "127.0.0.1" in done.stderr and "9" in done.stderr
