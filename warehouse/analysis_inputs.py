"""The standard inputs of each analysis as SQL over the marts (data source "warehouse").

Each analysis declares its inputs as columns of dbt marts (`analyses.spec.MartSource`); this module
turns them into the SELECTs that both the Dagster precompute (psycopg) and the MCP server (asyncpg)
run, so a cached result and a fresh one are computed on exactly the same rows. An input only reads
and renames columns of one published mart: the heavy work is done by dbt (network quality arrives
pre-aggregated by location x event type x hour in `fct_network_quality_by_hour`, 576 groups rather
than a million events), and `marts_read` is what the Dagster analysis assets take as their
upstream marts and what the generated dbt exposures list.
"""

from __future__ import annotations

from analyses.registry import ANALYSES
from analyses.spec import MartSource
from warehouse.raw_schema import RAW_TABLE_NAMES

MARTS_SCHEMA = "marts"


def standard_inputs(analysis_type: str) -> dict[str, str]:
    """frame name -> SELECT, the primary frame first."""
    return {frame.name: select_sql(frame.source) for frame in ANALYSES[analysis_type].frames}


def select_sql(source: MartSource) -> str:
    """One SELECT over a mart. Every name was checked to be a plain identifier by `MartSource`."""
    columns = ", ".join(
        f"{column} AS {source.rename[column]}" if column in source.rename else column
        for column in source.columns
    )
    sql = f"SELECT {columns or '*'} FROM {MARTS_SCHEMA}.{source.mart}"
    if source.where:
        sql += " WHERE " + " AND ".join(f"{c} {op} {_literal(v)}" for c, op, v in source.where)
    if source.order_by:
        sql += " ORDER BY " + ", ".join(source.order_by)
    return sql


def _literal(value: bool | int | float | str) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def primary_frame(analysis_type: str) -> str:
    """The frame a single mart or a session table stands in for."""
    return ANALYSES[analysis_type].primary_frame


def marts_read(analysis_type: str) -> list[str]:
    """The marts the standard inputs of `analysis_type` read, in order of first mention."""
    return list(dict.fromkeys(frame.source.mart for frame in ANALYSES[analysis_type].frames))


def required_raw_tables(analysis_type: str) -> tuple[str, ...]:
    """Raw tables the analysis needs rows in. Teams bring their tables one at a time, and the marts
    build (empty) on whatever is there; an analysis whose raw tables are still empty has "no data
    yet" rather than failing."""
    tables = ANALYSES[analysis_type].raw_tables
    unknown = [table for table in tables if table not in RAW_TABLE_NAMES]
    if unknown:
        raise ValueError(f"{analysis_type} declares raw tables that do not exist: {', '.join(unknown)}")
    return tables


# One probe per raw table, through its 1:1 staging view: the MCP server may read staging but
# never raw, and the Dagster assets run after dbt built the views, so both ask the same thing.
RAW_TABLE_HAS_ROWS_SQL: dict[str, str] = {
    table: f"SELECT EXISTS (SELECT 1 FROM staging.stg_telco__{table})" for table in RAW_TABLE_NAMES
}


def import_command(table: str) -> str:
    """How a person fills a raw table (the `telcopulse import` command)."""
    return f"telcopulse import FILE --table {table}"


def empty_inputs(analysis_type: str, has_rows: dict[str, bool]) -> list[str]:
    """The raw tables `analysis_type` needs that hold no rows, in declared order."""
    return [table for table in required_raw_tables(analysis_type) if not has_rows.get(table, False)]


def no_data_message(analysis_type: str, empty_tables: list[str]) -> str:
    """ "No data yet" as an error an agent can act on (one wording for every caller)."""
    names = " and ".join(f"raw.{table}" for table in empty_tables)
    verb, pronoun = ("is", "it") if len(empty_tables) == 1 else ("are", "them")
    loads = "; ".join(import_command(table) for table in empty_tables)
    return f"{analysis_type} needs rows in {names}, which {verb} empty; load {pronoun} with {loads}"


def no_data_status(empty_tables: list[str]) -> str:
    """ "No data yet" as a status line for the Dagster UI."""
    loads = ", ".join(f"raw.{table} ({import_command(table)})" for table in empty_tables)
    return f"no data yet — load {loads}"
