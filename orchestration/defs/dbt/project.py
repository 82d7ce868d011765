"""The dbt project as Dagster sees it.

The manifest is built, never committed: under `dagster dev` `prepare_if_dev` re-parses
on start; everywhere else (tests, `telcopulse refresh`, containers) `ensure_manifest`
runs `dbt parse` once when target/manifest.json is missing.
"""

from __future__ import annotations

from functools import lru_cache

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
