"""Sensors of the import domain: the landing folder, and a mart refresh after each import."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.imports.jobs import import_landed_file_job
from warehouse.importing.landing import ensure_layout, ready_files
from warehouse.settings import get_settings

if TYPE_CHECKING:  # the type lives in a private module; only annotations need it
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def build_landing_sensor(
    landing_dir: Path | None = None, settle_seconds: float | None = None, interval_seconds: int = 15
) -> dg.SensorDefinition:
    """One run per new file in `<landing>/<table>/`; unset arguments come from settings at tick time."""

    @dg.sensor(
        name="landing_folder_sensor",
        job=import_landed_file_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Imports each file dropped into <landing>/<table>/ (TELCOPULSE_LANDING_DIR), "
        "customers before events and bills.",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        settings = get_settings()
        landing = landing_dir or settings.landing_dir
        settle = settings.landing_settle_seconds if settle_seconds is None else settle_seconds
        ensure_layout(landing)
        requests = []
        for landed in ready_files(landing, settle):
            mapping = landed.mapping
            requests.append(
                dg.RunRequest(
                    run_key=landed.key,
                    run_config={
                        "ops": {
                            "import_landed_file": {
                                "config": {
                                    "path": str(landed.path),
                                    "table": landed.table,
                                    "mapping": str(mapping) if mapping else None,
                                }
                            }
                        }
                    },
                    tags={"telcopulse/file": landed.path.name, "telcopulse/table": landed.table},
                )
            )
        if not requests:
            return dg.SensorResult(skip_reason=f"no new files in {landing}")
        return dg.SensorResult(run_requests=requests)

    return landing_folder_sensor


def build_refresh_after_import_sensor(refresh_job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """After a successful import run, refresh the marts (the quality gate runs first)."""

    @dg.run_status_sensor(
        name="refresh_after_import",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[import_landed_file_job],
        request_job=refresh_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Rebuilds the marts after each successful import, so answers include the new data.",
    )
    def refresh_after_import(context: dg.RunStatusSensorContext) -> dg.RunRequest:
        return dg.RunRequest(run_key=f"after-import-{context.dagster_run.run_id}")

    return refresh_after_import
