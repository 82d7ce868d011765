import dagster as dg

from orchestration.defs.quality.checks import build_quality_checks
from orchestration.defs.quality.resources import QualityResource


def quality_definitions(quality: QualityResource | None = None) -> dg.Definitions:
    return dg.Definitions(
        asset_checks=build_quality_checks(), resources={"quality": quality or QualityResource()}
    )
