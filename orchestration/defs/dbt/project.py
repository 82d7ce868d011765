"""The dbt project as Dagster sees it.

The manifest is built, never committed: under `dagster dev` `prepare_if_dev` re-parses
on start; everywhere else (tests, `telcopulse refresh`, containers) `ensure_manifest`
runs `dbt parse` once when target/manifest.json is missing.
"""

from __future__ import annotations

import os
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.settings import DBT_PROJECT_DIR


@lru_cache(maxsize=1)
def dbt_project() -> DbtProject:
    # An absolute path: DbtProject with a relative one breaks dbt.cli() (STACK.md trap 4).
    _put_interpreter_bin_on_path()
    project = DbtProject(project_dir=DBT_PROJECT_DIR.resolve())
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


def dbt_executable() -> str:
    """The dbt next to this interpreter (the venv's), so an unactivated venv still works."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _put_interpreter_bin_on_path() -> None:
    """dagster-dbt's preparer runs `dbt parse` with a DbtCliResource it builds itself, which
    looks `dbt` up on PATH and cannot be told otherwise. From an unactivated venv (a fresh
    clone running `.venv/bin/telcopulse`) `dbt` is not on PATH, so put the venv's bin there."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + path
