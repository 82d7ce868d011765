"""`make test` on a machine without PostgreSQL says what to do instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from warehouse.settings import PROJECT_ROOT


def test_an_unreachable_postgres_ends_the_run_with_a_clear_message() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/postgres"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_raw_schema_spec.py",
            "-k",
            "columns_types",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stdout
    assert "PostgreSQL is not reachable at user=postgres dbname=postgres host=127.0.0.1 port=9" in done.stdout
    assert "`.ci/run` starts this machine's PostgreSQL and Redis" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
