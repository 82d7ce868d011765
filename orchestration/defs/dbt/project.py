"""The dbt project as Dagster sees it.

The manifest is built, never committed: under `dagster dev` `prepare_if_dev` re-parses
on start; everywhere else (tests, `telcopulse refresh`, containers) `ensure_manifest`
runs `dbt parse` once when target/manifest.json is missing.
"""

from __future__ import annotations

import shutil
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.settings import DBT_PROJECT_DIR


@lru_cache(maxsize=1)
def dbt_project() -> DbtProject:
    # An absolute path: DbtProject with a relative one breaks dbt.cli() (STACK.md trap 4).
    project = DbtProject(project_dir=DBT_PROJECT_DIR.resolve())
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


def dbt_executable() -> str:
    """The dbt next to this interpreter (the venv's), so an unactivated venv still works."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")
