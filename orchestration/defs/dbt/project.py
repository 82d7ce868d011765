"""The dbt project as Dagster sees it.

The manifest is built, never committed: under `dagster dev` `prepare_if_dev` re-parses
on start; everywhere else (tests, `telcopulse refresh`, containers) `dbt parse` runs when
target/manifest.json is missing or older than a file it is parsed from.
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
    if _manifest_is_stale(project.manifest_path):
        project.preparer.prepare(project)
    return project


def _manifest_is_stale(manifest: Path) -> bool:
    """Missing, or older than a file it is parsed from: a model, its yml, a macro, the project.

    Otherwise a checkout that gains a model keeps the old manifest and a refresh fails with
    `KeyError: 'model.telcopulse.<new model>'`.
    """
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    root = DBT_PROJECT_DIR.resolve()
    sources = [
        root / "dbt_project.yml",
        *(
            p
            for d in ("models", "macros", "tests", "seeds", "snapshots")
            for p in (root / d).rglob("*")
            if p.is_file()
        ),
    ]
    return any(source.stat().st_mtime > built for source in sources if source.exists())


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
