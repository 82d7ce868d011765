"""Every dbt model as a Dagster asset; dbt tests run in the same `dbt build` and surface
as asset checks. A successful build is recorded in `ops.data_builds`: its id is the data
version that keys the MCP server's caches.
"""

import json
import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.dbt.translator import TelcoDbtTranslator
from orchestration.resources import WarehouseResource
from warehouse.db import connect, dbt_connection_env
from warehouse.settings import get_settings


def record_build(database_url: str, build_id: str, models_built: int, selection: str) -> None:
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ops.data_builds (build_id, source, models_built, details) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (build_id) DO UPDATE SET finished_at = now(), models_built = EXCLUDED.models_built",
            (build_id, "dagster", models_built, json.dumps({"selection": selection})),
        )


def raw_history_replaced_since_last_build(database_url: str) -> bool:
    """True when a full raw load landed after the last successful build (or none exists).

    The network mart is incremental: it only re-processes the last few days. After the raw
    history is replaced (a new `generate`), those rows would be stale, so the next build
    must be a full refresh. Appending a day keeps the incremental path.
    """
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT max(loaded_at) FROM ops.raw_loads WHERE kind <> 'append_day')"
            " > coalesce((SELECT max(finished_at) FROM ops.data_builds), '-infinity')"
        ).fetchone()
    return bool(row and row[0])


def build_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TelcoDbtTranslator(),
        name="telcopulse_dbt",
    )
    def telcopulse_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        url = warehouse.url()
        # dbt reads its connection from the environment (profiles.yml → env_var); the
        # subprocess inherits os.environ, so the URL is split into it here, at run time.
        os.environ.update(dbt_connection_env(url, threads=get_settings().dbt_threads))
        args = ["build"]
        if raw_history_replaced_since_last_build(url):
            context.log.info("raw history was replaced since the last build: running a full refresh")
            args.append("--full-refresh")
        invocation = dbt.cli(args, context=context)
        models_built = 0
        for event in invocation.stream():
            if isinstance(event, dg.Output | dg.MaterializeResult):
                models_built += 1
            yield event
        if invocation.is_successful():
            record_build(url, context.run_id, models_built, ",".join(sorted(context.selected_output_names)))

    return telcopulse_dbt
