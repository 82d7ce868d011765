"""The raw schema as the seed specifies it: constraints, indexes, cascades, migrations."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors

from warehouse.db import connect
from warehouse.migrate import Migration, MigrationError, available_migrations, migrate

pytestmark = pytest.mark.integration

EXPECTED_CHECKS = {
    "ck_customers_age",
    "ck_customers_gender",
    "ck_customers_account_type",
    "ck_customers_churn_consistency",
    "ck_network_events_event_type",
    "ck_network_events_quality",
    "ck_network_events_duration",
    "ck_network_events_data_usage",
    "ck_revenue_amount",
    "ck_revenue_service_type",
    "ck_revenue_payment_method",
}
EXPECTED_INDEXES = {
    "idx_customers_account_type": "(account_type)",
    "idx_customers_location": "(location)",
    "idx_customers_is_churned": "(is_churned)",
    "idx_customers_churned_created": "(is_churned, created_at)",
    "idx_network_events_customer_id": "(customer_id)",
    "idx_network_events_timestamp": "(event_timestamp)",
    "idx_network_events_event_type": "(event_type)",
    "idx_network_events_customer_ts": "(customer_id, event_timestamp)",
    "idx_revenue_customer_id": "(customer_id)",
    "idx_revenue_transaction_date": "(transaction_date)",
    "idx_revenue_service_type": "(service_type)",
}


def _insert_customer(conn: psycopg.Connection, **overrides: object) -> uuid.UUID:
    row: dict[str, object] = {
        "age": 30,
        "gender": "Female",
        "location": "North",
        "account_type": "Basic",
        "is_churned": False,
        "churn_date": None,
    }
    row.update(overrides)
    cols = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    return conn.execute(
        f"INSERT INTO raw.customers ({cols}) VALUES ({marks}) RETURNING customer_id",
        list(row.values()),
    ).fetchone()[0]


def test_every_check_constraint_exists(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = 'raw' AND c.contype = 'c'"
            )
        }
    assert names == EXPECTED_CHECKS


def test_foreign_keys_cascade_on_delete(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        fks = dict(
            conn.execute(
                "SELECT conname, confdeltype FROM pg_constraint c JOIN pg_namespace n"
                " ON n.oid = c.connamespace WHERE n.nspname = 'raw' AND c.contype = 'f'"
            ).fetchall()
        )
    assert fks == {"fk_network_events_customer": "c", "fk_revenue_customer": "c"}


def test_primary_keys_are_uuid_with_random_default(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, column_default FROM information_schema.columns"
            " WHERE table_schema = 'raw' AND column_name IN ('customer_id', 'event_id', 'transaction_id')"
            " AND column_default IS NOT NULL"
        ).fetchall()
    assert {(r[0], r[1]) for r in rows} == {
        ("customers", "customer_id"),
        ("network_events", "event_id"),
        ("revenue", "transaction_id"),
    }
    assert all(r[2] == "uuid" and "gen_random_uuid" in r[3] for r in rows)


def test_seed_and_added_indexes_exist(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        found = dict(
            conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'raw'").fetchall()
        )
    for name, columns in EXPECTED_INDEXES.items():
        assert name in found, f"missing index {name}"
        assert found[name].endswith(columns), found[name]


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"age": 17}, "ck_customers_age"),
        ({"age": 121}, "ck_customers_age"),
        ({"gender": "Unknown"}, "ck_customers_gender"),
        ({"account_type": "Gold"}, "ck_customers_account_type"),
        ({"is_churned": True, "churn_date": None}, "ck_customers_churn_consistency"),
        ({"is_churned": False, "churn_date": "2026-01-01"}, "ck_customers_churn_consistency"),
    ],
)
def test_bad_customer_rows_are_rejected_by_name(
    run_database_url: str, overrides: dict[str, object], constraint: str
) -> None:
    with connect(run_database_url) as conn, pytest.raises(errors.CheckViolation) as info:
        _insert_customer(conn, **overrides)
    assert info.value.diag.constraint_name == constraint


@pytest.mark.parametrize(
    ("table", "values", "constraint"),
    [
        ("network_events", {"event_type": "fax"}, "ck_network_events_event_type"),
        ("network_events", {"network_quality_score": 0.99}, "ck_network_events_quality"),
        ("network_events", {"network_quality_score": 5.01}, "ck_network_events_quality"),
        ("network_events", {"duration_seconds": -1}, "ck_network_events_duration"),
        ("network_events", {"data_usage_mb": -0.01}, "ck_network_events_data_usage"),
        ("revenue", {"amount": -1}, "ck_revenue_amount"),
        ("revenue", {"service_type": "roaming"}, "ck_revenue_service_type"),
        ("revenue", {"payment_method": "cash"}, "ck_revenue_payment_method"),
    ],
)
def test_bad_fact_rows_are_rejected_by_name(
    run_database_url: str, table: str, values: dict[str, object], constraint: str
) -> None:
    defaults = {
        "network_events": {
            "event_timestamp": "2026-01-01 10:00",
            "event_type": "call",
            "network_quality_score": 3.5,
            "duration_seconds": 60,
            "data_usage_mb": 0,
        },
        "revenue": {
            "transaction_date": "2026-01-01",
            "amount": 10,
            "service_type": "voice",
            "payment_method": "credit_card",
        },
    }[table]
    with connect(run_database_url) as conn:
        row = {"customer_id": _insert_customer(conn), **defaults, **values}
        with pytest.raises(errors.CheckViolation) as info:
            conn.execute(
                f"INSERT INTO raw.{table} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                list(row.values()),
            )
    assert info.value.diag.constraint_name == constraint


def test_unspecified_gender_fits_the_widened_column(run_database_url: str) -> None:
    with connect(run_database_url) as conn:
        customer_id = _insert_customer(conn, gender="Unspecified")
        assert conn.execute(
            "SELECT gender FROM raw.customers WHERE customer_id = %s", (customer_id,)
        ).fetchone() == ("Unspecified",)
        conn.rollback()


def test_event_for_unknown_customer_is_rejected(run_database_url: str) -> None:
    with connect(run_database_url) as conn, pytest.raises(errors.ForeignKeyViolation) as info:
        conn.execute(
            "INSERT INTO raw.network_events (customer_id, event_timestamp, event_type)"
            " VALUES (%s, now(), 'sms')",
            (uuid.uuid4(),),
        )
    assert info.value.diag.constraint_name == "fk_network_events_customer"


def test_deleting_a_customer_cascades_to_events_and_revenue(run_database_url: str) -> None:
    with connect(run_database_url) as conn:
        customer_id = _insert_customer(conn, is_churned=True, churn_date="2026-02-01")
        conn.execute(
            "INSERT INTO raw.network_events (customer_id, event_timestamp, event_type, network_quality_score)"
            " VALUES (%s, '2026-01-05', 'call', 4.2), (%s, '2026-01-06', 'data', 2.1)",
            (customer_id, customer_id),
        )
        conn.execute(
            "INSERT INTO raw.revenue (customer_id, transaction_date, amount, service_type, payment_method)"
            " VALUES (%s, '2026-01-31', 19.99, 'subscription', 'debit_card')",
            (customer_id,),
        )
        conn.execute("DELETE FROM raw.customers WHERE customer_id = %s", (customer_id,))
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM raw.network_events WHERE customer_id = %(c)s),"
            " (SELECT count(*) FROM raw.revenue WHERE customer_id = %(c)s)",
            {"c": customer_id},
        ).fetchone()
        conn.rollback()
    assert counts == (0, 0)


def test_migrations_are_versioned_and_rerun_is_a_noop(empty_database_url: str) -> None:
    assert migrate(empty_database_url) == []
    with connect(empty_database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM ops.schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in available_migrations()]


def test_an_edited_applied_migration_is_reported(empty_database_url: str, monkeypatch) -> None:
    first = available_migrations()[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- edited")
    monkeypatch.setattr("warehouse.migrate.available_migrations", lambda: [edited])
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_database_url)
