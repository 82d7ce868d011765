"""How dbt nodes become Dagster assets.

Keys mirror `<schema>/<model>` (e.g. `marts/fct_arpu_monthly`) so the UI reads like the
warehouse; groups follow the model's folder (`staging`, `intermediate`,
`marts_customers`, ...); sources take the key in their `meta.dagster.asset_key`, which is
the raw asset's key, so the raw load is upstream of staging.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class TelcoDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]  # drop project name and model name
        return "_".join(folders) if folders else "dbt"
