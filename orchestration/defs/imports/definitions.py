from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from orchestration.defs.imports.jobs import import_landed_file_job
from orchestration.defs.imports.sensors import build_landing_sensor, build_refresh_after_import_sensor

if TYPE_CHECKING:  # the type lives in a private module; only annotations need it
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


def imports_definitions(refresh_job: UnresolvedAssetJobDefinition) -> dg.Definitions:
    return dg.Definitions(
        jobs=[import_landed_file_job],
        sensors=[build_landing_sensor(), build_refresh_after_import_sensor(refresh_job)],
    )
