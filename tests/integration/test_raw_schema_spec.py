"""warehouse/raw_schema.py states the raw tables' rules for the importer; migration 0001 states
them for PostgreSQL. These tests read the live catalog and fail when the two disagree."""

from __future__ import annotations

import re

import pytest

from warehouse.db import connect
from warehouse.generator import profiles
from warehouse.raw_schema import (
    ACCOUNT_TYPES,
    EVENT_TYPES,
    GENDERS,
    PAYMENT_METHODS,
    SERVICE_TYPES,
    TABLES,
)

pytestmark = pytest.mark.integration

PG_TYPES = {
    "uuid": {"uuid"},
    "timestamp": {"timestamp without time zone"},
    "integer": {"integer"},
    "decimal": {"numeric"},
    "text": {"character varying"},
    "boolean": {"boolean"},
}


def catalog(url: str, table: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_scale, is_nullable"
            " FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        ).fetchall()


def checks(url: str, table: str) -> list[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid = %s::regclass",
            (f"raw.{table}",),
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_columns_types_and_lengths_match_the_catalog(run_database_url: str, table: str) -> None:
    spec = TABLES[table]
    live = catalog(run_database_url, table)
    assert [c[0] for c in live] == list(spec.column_names)
    for name, data_type, max_length, scale, nullable in live:
        column = spec.column(name)
        assert data_type in PG_TYPES[column.kind], name
        if column.kind == "text":
            assert column.max_length == max_length, name
        if column.kind == "decimal":
            assert column.scale == scale, name
        if nullable == "NO":
            assert column.required or name == spec.key, f"{name} is NOT NULL in the database"
    with connect(run_database_url) as conn:
        key = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (f"raw.{table}",),
        ).fetchone()[0]
    assert key == spec.key


@pytest.mark.parametrize("table", sorted(TABLES))
def test_allowed_values_and_ranges_match_the_checks(run_database_url: str, table: str) -> None:
    spec = TABLES[table]
    definitions = checks(run_database_url, table)
    for column in spec.columns:
        mentioning = [d for d in definitions if re.search(rf"\b{column.name}\b", d)]
        if column.choices:
            (definition,) = [d for d in mentioning if "ANY" in d]
            assert re.findall(r"'([^']*)'", definition) == list(column.choices), column.name
        numbers = [float(x) for d in mentioning for x in re.findall(r"[<>]=?\s*\(?(-?[\d.]+)", d)]
        if column.minimum is not None and numbers:
            assert column.minimum in numbers, column.name
        if column.maximum is not None and column.maximum < 1_000_000:
            assert column.maximum in numbers, column.name


def test_the_generator_uses_the_same_categories() -> None:
    assert tuple(profiles.ACCOUNT_TYPES) == ACCOUNT_TYPES
    assert tuple(profiles.GENDERS) == GENDERS
    assert tuple(profiles.EVENT_TYPES) == EVENT_TYPES
    assert set(profiles.SERVICE_TYPES) == set(SERVICE_TYPES)
    assert tuple(profiles.PAYMENT_METHODS) == PAYMENT_METHODS


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_quality_suites_use_the_same_structure_and_values(table: str) -> None:
    """`quality` may not import `warehouse`, so its copy of these facts is checked here."""
    from quality import suite_for

    spec, suite = TABLES[table], suite_for(table)
    assert (suite.timestamp, suite.key) == (spec.day_column, spec.key)
    for column, values in suite.value_sets.items():
        assert tuple(values) == spec.column(column).choices, column
    for column, (low, high, _unit) in suite.ranges.items():
        rule = spec.column(column)
        assert rule.minimum is None or low >= rule.minimum, column
        assert rule.maximum is None or high <= rule.maximum, column
