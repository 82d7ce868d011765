"""The README's import walk-through, run command by command as a newcomer would paste it
(on a fresh database instead of `createdb mytelco`)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def walkthrough_commands() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("### Walk-through", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split(" #", 1)[0].strip() for line in block.splitlines() if line.startswith(".venv/bin/")]


def test_readme_walkthrough_runs(empty_database_url: str) -> None:
    commands = walkthrough_commands()
    assert [shlex.split(c)[1] for c in commands] == [
        "import",
        "import",
        "import",
        "imports",
        "imports",
        "refresh",
    ]
    env = {**os.environ, "DATABASE_URL": empty_database_url, "DAGSTER_HOME": ""}
    env.pop("DAGSTER_HOME")
    outputs: list[str] = []
    last_import_id = ""
    for command in commands:
        args = shlex.split(command.replace("<import id>", last_import_id))
        args[0] = str(BIN / Path(args[0]).name)
        done = subprocess.run(
            args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        outputs.append(done.stdout)
        found = re.search(r"import id: (\S+)", done.stdout)
        if found:
            last_import_id = found.group(1)
    assert "18 loaded, 2 rejected, 0 duplicate, 0 updated of 20 records" in outputs[0]
    assert "5 loaded, 1 rejected" in outputs[1]
    assert "28 loaded, 2 rejected" in outputs[2]
    assert outputs[3].count(" loaded ") == 3
    assert "customer_id: unknown customer" in outputs[4] and "network_quality_score: must be" in outputs[4]
    with connect(empty_database_url) as conn:
        customers = conn.execute("SELECT count(*) FROM marts.dim_customers").fetchone()[0]
        events = conn.execute("SELECT sum(event_count) FROM marts.fct_network_quality_daily").fetchone()[0]
        generated = conn.execute("SELECT count(*) FROM ops.raw_loads WHERE kind = 'synthetic'").fetchone()[0]
    assert (customers, events, generated) == (23, 28, 0)
