"""Raw tables: migrate the schema, then load synthetic data when the warehouse is empty.

One multi-asset for the three tables, because they are loaded in one transaction (the
foreign keys tie them together). The keys are `raw/<table>`, the same keys the dbt
sources map to, so lineage runs raw → staging → marts in the UI.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Literal

import dagster as dg

from orchestration.resources import WarehouseResource
from warehouse.db import connect
from warehouse.generator import append_day, generate
from warehouse.migrate import migrate
from warehouse.raw_schema import RAW_TABLE_NAMES
from warehouse.settings import get_settings

RAW_TABLES = RAW_TABLE_NAMES  # customers first: events and bills reference them
RAW_DESCRIPTIONS = {
    "customers": "Subscribers: account type, location, demographics and churn status (seed schema).",
    "network_events": "Calls, SMS and data sessions with a network quality score from 1.0 to 5.0.",
    "revenue": "Billed transactions by service type and payment method.",
}


class RawLoadConfig(dg.Config):
    """How to load raw data. Defaults come from TELCOPULSE_* settings.

    `if_empty` (default) loads synthetic data only into an empty warehouse (no customers and no
    loaded file import), so a scheduled refresh never overwrites or mixes with imported or
    generated data; `regenerate` replaces it;
    `append_day` adds the next day of events (for incremental refreshes and the benchmark).
    """

    mode: Literal["if_empty", "regenerate", "append_day"] = "if_empty"
    customers: int | None = None
    seed: int | None = None
    end_date: str | None = None  # ISO date; unset = settings / today


def _row_counts(url: str) -> dict[str, int]:
    with connect(url) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM raw.{table}").fetchone()[0])
            for table in RAW_TABLES
        }


def _loaded_imports(url: str) -> int:
    with connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM ops.imports WHERE status = 'loaded'").fetchone()[0])


def _why_not_generate(url: str, customers: int) -> str | None:
    """Why `if_empty` must leave the warehouse alone, or None when demo data may be generated.

    Demo data goes only into a warehouse nobody has put data into. Customers are the first
    sign of data; a loaded import is the other (a team whose first file was all rejects has
    no customers yet, but its next files must not land next to synthetic subscribers).
    """
    if customers:
        return f"raw.customers already holds {customers} rows"
    imports = _loaded_imports(url)
    if imports:
        return (
            f"{imports} file import(s) were loaded into this warehouse (ops.imports), so demo data would "
            "mix with the team's own; load raw.customers with telcopulse import FILE --table customers"
        )
    return None


def _max_event_day(url: str) -> dt.date | None:
    with connect(url) as conn:
        row = conn.execute("SELECT max(event_timestamp)::date FROM raw.network_events").fetchone()
    return row[0] if row else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["raw", table],
            group_name="raw",
            description=RAW_DESCRIPTIONS[table],
            kinds={"postgres"},
            skippable=False,
        )
        for table in RAW_TABLES
    ],
    name="raw_tables",
)
def raw_tables(
    context: dg.AssetExecutionContext, config: RawLoadConfig, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    url = warehouse.url()
    settings = get_settings()
    applied = migrate(url)
    if applied:
        context.log.info("applied migrations: %s", ", ".join(applied))
    before = _row_counts(url)
    seed = config.seed if config.seed is not None else settings.seed
    action = "kept"
    skip_reason = _why_not_generate(url, before["customers"]) if config.mode == "if_empty" else None
    if skip_reason:
        context.log.info("not generating demo data: %s", skip_reason)
        action = f"kept: {skip_reason}"
    if config.mode == "regenerate" or (config.mode == "if_empty" and skip_reason is None):
        end = dt.date.fromisoformat(config.end_date) if config.end_date else settings.history_end()
        report = generate(
            url,
            customers=config.customers or settings.customers,
            seed=seed,
            end_date=end,
            history_months=settings.history_months,
            progress=False,
        )
        action = f"generated in {report.seconds:.1f}s"
    elif config.mode == "append_day":
        last = _max_event_day(url)
        if last is None:
            raise dg.Failure("append_day needs loaded raw data; run with mode=if_empty first")
        report = append_day(url, day=last + dt.timedelta(days=1), seed=seed)
        action = f"appended {last + dt.timedelta(days=1)}"
    after = _row_counts(url)
    context.log.info("raw load: %s; rows %s", action, after)
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "row_count": dg.MetadataValue.int(after[table]),
                "rows_added": dg.MetadataValue.int(after[table] - before[table]),
                "action": action,
            },
        )
