import dagster as dg

from orchestration.defs.raw.assets import raw_tables


def raw_definitions() -> dg.Definitions:
    return dg.Definitions(assets=[raw_tables])
