import dagster as dg

from orchestration.defs.analyses.assets import build_analysis_assets


def analyses_definitions() -> dg.Definitions:
    return dg.Definitions(assets=build_analysis_assets())
