import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.assets import build_dbt_assets
from orchestration.defs.dbt.project import dbt_executable, dbt_project
from warehouse.raw_schema import RAW_TABLE_NAMES
from warehouse.settings import get_settings


def dbt_definitions() -> dg.Definitions:
    dbt_assets_def = build_dbt_assets()
    marts_refresh = dg.define_asset_job(
        "refresh_marts",
        # Downstream too: the precomputed analyses are refreshed with the marts they read.
        # With the raw tables' checks: the blocking quality gate must pass before any model runs.
        selection=dg.AssetSelection.assets(dbt_assets_def).downstream()
        | dg.AssetSelection.checks_for_assets(*(["raw", table] for table in RAW_TABLE_NAMES)),
        description="dbt build of every model (tests included) on the current raw data, then the analyses.",
    )
    daily = dg.ScheduleDefinition(
        name="daily_mart_refresh",
        job=marts_refresh,
        cron_schedule=get_settings().refresh_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Rebuilds the marts once a day so the analyses and MCP answers stay fresh.",
    )
    return dg.Definitions(
        assets=[dbt_assets_def],
        jobs=[marts_refresh],
        schedules=[daily],
        resources={"dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())},
    )
