"""Settings of the quality gate: where Great Expectations Data Docs go, and "today"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from warehouse.settings import DBT_PROJECT_DIR, get_settings


class QualityResource(dg.ConfigurableResource):
    """Data Docs are on by default: the GX project (its stores) under `<data_dir>/gx`, the
    static site in `dbt_project/target/gx_docs`, next to the dbt docs, so the docs server
    of `telcopulse up` serves both (`/gx_docs/index.html`). `as_of` pins "today" (UTC) for
    reproducible runs and tests; unset means the real date at run time.
    """

    data_docs: bool = True
    project_dir: str | None = None
    site_dir: str | None = None
    as_of: str | None = None

    def reference_day(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.datetime.now(dt.UTC).date()

    def docs_target(self) -> object | None:
        """A `quality.engine.DataDocs`, or None; built lazily (the engine imports GX)."""
        if not self.data_docs:
            return None
        from quality.engine import DataDocs

        project = Path(self.project_dir) if self.project_dir else get_settings().data_dir / "gx"
        site = Path(self.site_dir) if self.site_dir else DBT_PROJECT_DIR / "target" / "gx_docs"
        return DataDocs(project_dir=project, site_dir=site)
