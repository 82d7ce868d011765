"""The code location's entry point: `dagster dev -m orchestration.definitions`.

`@dg.definitions` makes loading lazy: settings are read and the dbt manifest prepared
when Dagster loads the location, not when this module is imported.
"""

from __future__ import annotations

import warnings

import dagster as dg

from orchestration.defs.analyses.definitions import analyses_definitions
from orchestration.defs.dbt.definitions import dbt_definitions
from orchestration.defs.imports.definitions import imports_definitions
from orchestration.defs.monitoring.definitions import monitoring_definitions
from orchestration.defs.quality.definitions import quality_definitions
from orchestration.defs.raw.definitions import raw_definitions
from orchestration.resources import RedisResource, WarehouseResource


def build_definitions(
    warehouse: WarehouseResource | None = None, analysis_cache: RedisResource | None = None
) -> dg.Definitions:
    # Dagster 1.13 re-creates every sensor that targets a job when it binds resources, and
    # passes `owners=None` to a beta-flagged parameter on the way: a warning at each start
    # about a parameter we never set. Silence exactly that one.
    warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")
    shared = dg.Definitions(
        resources={
            "warehouse": warehouse or WarehouseResource(),
            "analysis_cache": analysis_cache or RedisResource(),
        }
    )
    dbt = dbt_definitions()
    refresh_job = next(job for job in dbt.jobs or [] if job.name == "refresh_marts")
    return dg.Definitions.merge(
        shared,
        raw_definitions(),
        quality_definitions(),
        dbt,
        imports_definitions(refresh_job),
        analyses_definitions(),
        monitoring_definitions(),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
