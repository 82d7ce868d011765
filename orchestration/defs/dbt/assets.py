"""Every dbt model as a Dagster asset; dbt tests run in the same `dbt build` and surface
as asset checks. A successful build is recorded in `ops.data_builds`: its id is the data
version that keys the MCP server's caches.
"""

import datetime as dt
import json
import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import dbt_project
from orchestration.defs.dbt.translator import TelcoDbtTranslator
from orchestration.resources import WarehouseResource
from warehouse.build_events import ANNOUNCE_SQL, BUILD_CHANNEL, BuildSummary, BuildTally
from warehouse.db import connect, dbt_connection_env
from warehouse.settings import get_settings

# The point a build is "since": the newest build's start (recorded in its details) when known,
# else its finish. A file imported while a build ran may have landed after dbt read that day,
# so counting from the start re-processes it once more rather than never.
_LAST_BUILD_CUTOFF_SQL = """
    SELECT coalesce((details->>'started_at')::timestamptz, finished_at)
    FROM ops.data_builds ORDER BY finished_at DESC, build_id DESC LIMIT 1
"""


def record_build(
    database_url: str,
    build_id: str,
    models_built: int,
    selection: str,
    started_at: dt.datetime | None = None,
    reprocess_days: list[dt.date] | None = None,
    summary: BuildSummary | None = None,
) -> None:
    """Record a successful build (the new data version) and announce it to every MCP server.

    The NOTIFY is part of the same transaction: listeners hear of the build when, and only if,
    its row is committed (warehouse.build_events).
    """
    details: dict[str, object] = {"selection": selection, **(summary or BuildSummary()).details()}
    if started_at is not None:
        details["started_at"] = started_at.isoformat()
    if reprocess_days:
        details["reprocess_days"] = [day.isoformat() for day in reprocess_days]
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ops.data_builds (build_id, source, models_built, details) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (build_id) DO UPDATE SET finished_at = now(), models_built = EXCLUDED.models_built",
            (build_id, "dagster", models_built, json.dumps(details)),
        )
        conn.execute(ANNOUNCE_SQL, (BUILD_CHANNEL, build_id))


def raw_history_replaced_since_last_build(database_url: str) -> bool:
    """True when a full raw load landed after the last successful build (or none exists).

    The network mart is incremental: it only re-processes the last few days. After the raw
    history is replaced (a new `generate`), those rows would be stale, so the next build
    must be a full refresh. Appending a day keeps the incremental path, and so does an
    import: it adds rows on known days (`late_event_days_since_last_build`) rather than
    replacing history.
    """
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT max(loaded_at) FROM ops.raw_loads WHERE kind NOT IN ('append_day', 'import'))"
            f" > coalesce(({_LAST_BUILD_CUTOFF_SQL}), '-infinity')"
        ).fetchone()
    return bool(row and row[0])


def customer_history_changed_since_last_build(database_url: str) -> bool:
    """True when a customers import since the last build changed an existing customer's
    signup, location or account type.

    The network mart files each day's events under the customer's location, so every day
    already built may now be wrong, not only the days the import touched: rebuild in full.
    """
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM ops.imports WHERE status = 'loaded' AND table_name = 'customers'"
            f" AND history_changed AND finished_at > coalesce(({_LAST_BUILD_CUTOFF_SQL}), '-infinity'))"
        ).fetchone()
    return bool(row and row[0])


def late_event_days_since_last_build(database_url: str) -> list[dt.date]:
    """Days that network_events imports gave rows since the last build, oldest first.

    The incremental network mart only looks back a few days; an imported CDR file from last
    month would otherwise never reach it. These days go to dbt as var `reprocess_days`.
    """
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT day FROM ops.imports CROSS JOIN LATERAL unnest(affected_days) AS day"
            " WHERE status = 'loaded' AND table_name = 'network_events'"
            f" AND finished_at > coalesce(({_LAST_BUILD_CUTOFF_SQL}), '-infinity') ORDER BY day"
        ).fetchall()
    return [row[0] for row in rows]


def _database_now(database_url: str) -> dt.datetime:
    # The warehouse's clock, the one ops.imports.finished_at is written with.
    with connect(database_url) as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def _days_text(days: list[dt.date], limit: int = 10) -> str:
    shown = ", ".join(day.isoformat() for day in days[:limit])
    return shown + (f", ... ({len(days)} days)" if len(days) > limit else "")


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
        started_at = _database_now(url)
        args = ["build"]
        reprocess_days: list[dt.date] = []
        if raw_history_replaced_since_last_build(url):
            context.log.info("raw history was replaced since the last build: running a full refresh")
            args.append("--full-refresh")
        elif customer_history_changed_since_last_build(url):
            context.log.info(
                "an import changed existing customers' signup, location or account type since the last"
                " build: running a full refresh"
            )
            args.append("--full-refresh")
        else:
            reprocess_days = late_event_days_since_last_build(url)
            if reprocess_days:
                context.log.info(
                    "re-processing %d day(s) that imports gave events since the last build: %s",
                    len(reprocess_days),
                    _days_text(reprocess_days),
                )
                args += ["--vars", json.dumps({"reprocess_days": [d.isoformat() for d in reprocess_days]})]
        invocation = dbt.cli(args, context=context)
        models_built = 0
        tally = BuildTally()
        for event in invocation.stream():
            if isinstance(event, dg.Output | dg.MaterializeResult):
                models_built += 1
                _tally_materialization(context, event, tally)
            elif isinstance(event, dg.AssetCheckResult):
                _tally_check(event, tally)
            yield event
        if invocation.is_successful():
            record_build(
                url,
                context.run_id,
                models_built,
                ",".join(sorted(context.selected_output_names)),
                started_at=started_at,
                reprocess_days=reprocess_days,
                summary=tally.summary(),
            )

    return telcopulse_dbt


def _mart_name(key: dg.AssetKey | None) -> str | None:
    """dbt models are keyed <schema>/<model>; only the marts are announced."""
    return key.path[1] if key is not None and len(key.path) == 2 and key.path[0] == "marts" else None


def _tally_materialization(
    context: dg.AssetExecutionContext, event: dg.Output | dg.MaterializeResult, tally: BuildTally
) -> None:
    key = (
        event.asset_key
        if isinstance(event, dg.MaterializeResult)
        else context.asset_key_for_output(event.output_name)
    )
    mart = _mart_name(key)
    if mart:
        tally.rebuilt(mart)


def _tally_check(event: dg.AssetCheckResult, tally: BuildTally) -> None:
    mart = _mart_name(event.asset_key)
    if mart:
        failed = "warned" if event.severity == dg.AssetCheckSeverity.WARN else "failed"
        tally.checked(mart, "passed" if event.passed else failed)
