"""The synthetic generator against a real PostgreSQL: determinism, atomicity, and the signal.

The signal tests are the contract with analysts: each asserts one designed effect is
strong enough to find in a small (2,000-customer) data set.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator

import pytest

from warehouse.db import connect, create_database, drop_database, with_database
from warehouse.generator import LoadReport, append_day, generate, synth
from warehouse.migrate import migrate

pytestmark = pytest.mark.integration

END = dt.date(2025, 6, 30)
WINDOW_START = dt.datetime(2024, 6, 1)
WINDOW_END = dt.datetime(2025, 7, 1)
PRIMARY_KEYS = {"customers": "customer_id", "network_events": "event_id", "revenue": "transaction_id"}


@pytest.fixture(scope="module")
def make_database(base_database_url: str) -> Iterator[Callable[[], str]]:
    """Fresh migrated databases on demand, all dropped after the module."""
    created: list[str] = []

    def make() -> str:
        name = f"telcopulse_test_{uuid.uuid4().hex[:10]}"
        create_database(base_database_url, name)
        created.append(name)
        url = with_database(base_database_url, name)
        migrate(url)
        return url

    yield make
    for name in created:
        drop_database(base_database_url, name)


@pytest.fixture(scope="module")
def signal_db(make_database: Callable[[], str]) -> str:
    """One 2,000-customer load shared by the read-only tests."""
    url = make_database()
    generate(url, customers=2000, seed=42, end_date=END, progress=False)
    return url


def scalar(url: str, sql: str, params: tuple = ()) -> object:
    with connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def counts(url: str) -> dict[str, int]:
    return {table: int(scalar(url, f"SELECT count(*) FROM raw.{table}")) for table in PRIMARY_KEYS}


def checksums(url: str) -> dict[str, str]:
    return {
        table: str(scalar(url, f"SELECT md5(string_agg(t::text, '|' ORDER BY {pk})) FROM raw.{table} t"))
        for table, pk in PRIMARY_KEYS.items()
    }


# --- determinism, replacement, atomicity ----------------------------------------------------


def test_same_seed_same_bytes_and_regenerate_replaces(make_database: Callable[[], str]) -> None:
    first, second = make_database(), make_database()
    report = generate(first, customers=1000, seed=7, end_date=END, progress=False)
    generate(second, customers=1000, seed=7, end_date=END, progress=False)
    assert isinstance(report, LoadReport)
    assert report.as_dict()["customers"] == 1000
    assert (
        counts(first)
        == counts(second)
        == {
            "customers": report.customers,
            "network_events": report.network_events,
            "revenue": report.revenue,
        }
    )
    assert checksums(first) == checksums(second)

    generate(second, customers=1000, seed=8, end_date=END, progress=False)
    assert counts(second)["customers"] == 1000  # replaced, not appended
    different = checksums(second)
    assert all(different[t] != checksums(first)[t] for t in PRIMARY_KEYS)

    half = generate(second, customers=500, seed=8, end_date=END, progress=False)
    assert counts(second)["customers"] == 500
    for table in ("network_events", "revenue"):
        ratio = getattr(half, table) / getattr(report, table)
        assert 0.4 <= ratio <= 0.6, (table, ratio)
    loads = scalar(second, "SELECT count(*) FROM ops.raw_loads WHERE kind = 'synthetic'")
    assert loads == 3
    params = scalar(second, "SELECT parameters FROM ops.raw_loads ORDER BY load_id DESC LIMIT 1")
    assert params["customers"] == 500 and params["seed"] == 8 and params["end_date"] == END.isoformat()


def test_failure_mid_load_changes_nothing(
    make_database: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_database()
    generate(url, customers=1500, seed=3, end_date=END, progress=False)
    before_counts, before_sums = counts(url), checksums(url)
    schema_sql = (
        "SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = 'raw'),"
        " (SELECT count(*) FROM pg_constraint WHERE connamespace = 'raw'::regnamespace)"
    )
    before_schema = scalar_row(url, schema_sql)
    real = synth.generate_block

    def fail_on_second(seed: int, block_index: int, size: int, window: object) -> synth.Block:
        if block_index == 1:
            raise RuntimeError("boom in block 1")
        return real(seed, block_index, size, window)

    monkeypatch.setattr(synth, "generate_block", fail_on_second)
    with pytest.raises(RuntimeError, match="boom"):
        generate(url, customers=3000, seed=4, end_date=END, progress=False)
    assert counts(url) == before_counts
    assert checksums(url) == before_sums
    assert scalar_row(url, schema_sql) == before_schema  # indexes and FKs restored
    assert scalar(url, "SELECT count(*) FROM ops.raw_loads") == 1


def test_append_day_adds_one_deterministic_day(make_database: Callable[[], str]) -> None:
    url = make_database()
    generate(url, customers=1000, seed=11, end_date=dt.date(2025, 6, 29), progress=False)
    base = counts(url)

    month_end = append_day(url, day=dt.date(2025, 6, 30), seed=11)
    assert month_end.customers == 0 and month_end.network_events > 0
    services = scalar(
        url,
        "SELECT string_agg(DISTINCT service_type, ',') FROM raw.revenue"
        " WHERE transaction_date >= '2025-06-30' AND transaction_date < '2025-07-01'",
    )
    assert services == "data,sms,voice"  # the month closes: usage is billed

    day = dt.date(2025, 7, 1)
    day_sql = (
        "SELECT md5(string_agg(t::text, '|' ORDER BY event_id)), count(*), min(event_timestamp)::date,"
        " max(event_timestamp)::date FROM raw.network_events t WHERE event_timestamp >= %s"
    )
    first = append_day(url, day=day, seed=11)
    with connect(url) as conn:
        digest, n, lo, hi = conn.execute(day_sql, (day,)).fetchone()
        revenue_day = conn.execute(
            "SELECT count(*), bool_and(service_type = 'subscription') FROM raw.revenue"
            " WHERE transaction_date >= %s",
            (day,),
        ).fetchone()
    assert n == first.network_events > 0 and lo == hi == day
    assert revenue_day == (first.revenue, True) and first.revenue > 0  # new month: plan charges
    assert counts(url)["network_events"] == base["network_events"] + month_end.network_events + n

    with pytest.raises(ValueError, match="already has events"):
        append_day(url, day=day, seed=11)

    with connect(url) as conn:  # undo the day, then append it again: same bytes
        conn.execute("DELETE FROM raw.network_events WHERE event_timestamp >= %s", (day,))
        conn.execute("DELETE FROM raw.revenue WHERE transaction_date >= %s", (day,))
    append_day(url, day=day, seed=11)
    with connect(url) as conn:
        assert conn.execute(day_sql, (day,)).fetchone()[0] == digest
    kinds = scalar(url, "SELECT string_agg(kind, ',' ORDER BY load_id) FROM ops.raw_loads")
    assert kinds == "synthetic,append_day,append_day,append_day"


# --- shape and constraints ------------------------------------------------------------------------


def test_events_stay_inside_customer_lifetime_and_window(signal_db: str) -> None:
    violations = scalar(
        signal_db,
        "SELECT count(*) FROM raw.network_events e JOIN raw.customers c USING (customer_id)"
        " WHERE e.event_timestamp < c.created_at OR e.event_timestamp > c.churn_date"
        " OR e.event_timestamp < %s OR e.event_timestamp >= %s",
        (WINDOW_START, WINDOW_END),
    )
    assert violations == 0
    bad_revenue = scalar(
        signal_db,
        "SELECT count(*) FROM raw.revenue r JOIN raw.customers c USING (customer_id)"
        " WHERE r.transaction_date < c.created_at OR r.transaction_date > c.churn_date"
        " OR r.transaction_date < %s OR r.transaction_date >= %s",
        (WINDOW_START, WINDOW_END),
    )
    assert bad_revenue == 0
    assert (
        scalar(signal_db, "SELECT count(*) FROM raw.customers WHERE is_churned <> (churn_date IS NOT NULL)")
        == 0
    )
    assert (
        scalar(
            signal_db,
            "SELECT count(*) FROM raw.customers WHERE churn_date < %s OR churn_date >= %s"
            " OR churn_date < created_at",
            (WINDOW_START, WINDOW_END),
        )
        == 0
    )


def test_population_mix(signal_db: str) -> None:
    with connect(signal_db) as conn:
        accounts = dict(conn.execute("SELECT account_type, count(*) / 2000.0 FROM raw.customers GROUP BY 1"))
        genders = dict(conn.execute("SELECT gender, count(*) / 2000.0 FROM raw.customers GROUP BY 1"))
        locations = {r[0] for r in conn.execute("SELECT DISTINCT location FROM raw.customers")}
        age_lo, age_hi, pre_window = conn.execute(
            "SELECT min(age), max(age), avg((created_at < %s)::int) FROM raw.customers", (WINDOW_START,)
        ).fetchone()
        events_per_customer = conn.execute("SELECT count(*) / 2000.0 FROM raw.network_events").fetchone()[0]
        types = dict(
            conn.execute(
                "SELECT event_type, count(*) * 1.0 / sum(count(*)) OVER () FROM raw.network_events GROUP BY 1"
            )
        )
        medians = {
            r[0]: (r[1], r[2], r[3])
            for r in conn.execute(
                "SELECT event_type, percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY data_usage_mb), min(data_usage_mb)"
                " FROM raw.network_events GROUP BY 1"
            )
        }
    assert float(accounts["Basic"]) == pytest.approx(0.55, abs=0.04)
    assert float(accounts["Premium"]) == pytest.approx(0.35, abs=0.04)
    assert float(accounts["Enterprise"]) == pytest.approx(0.10, abs=0.03)
    assert float(genders["Male"]) == pytest.approx(0.48, abs=0.04)
    assert float(genders["Female"]) == pytest.approx(0.48, abs=0.04)
    assert locations == {
        "North",
        "North-East",
        "East",
        "South-East",
        "South",
        "South-West",
        "West",
        "Central",
    }
    assert age_lo >= 18 and age_hi <= 85
    assert float(pre_window) == pytest.approx(0.40, abs=0.05)
    assert 80 <= float(events_per_customer) <= 120
    assert float(types["call"]) == pytest.approx(0.40, abs=0.03)
    assert float(types["sms"]) == pytest.approx(0.25, abs=0.03)
    assert float(types["data"]) == pytest.approx(0.35, abs=0.03)
    assert 100 <= medians["call"][0] <= 200 and medians["sms"][:2] == (0, 0)
    assert medians["data"][0] > medians["call"][0] and 10 <= medians["data"][1] <= 60
    assert medians["data"][2] > 0


# --- designed signal ----------------------------------------------------------------------------------


def test_churn_by_account_type_and_quality(signal_db: str) -> None:
    with connect(signal_db) as conn:
        churn = dict(
            conn.execute("SELECT account_type, avg(is_churned::int)::float8 FROM raw.customers GROUP BY 1")
        )
        corr = conn.execute(
            "WITH q AS (SELECT customer_id, avg(network_quality_score) AS quality"
            " FROM raw.network_events GROUP BY 1)"
            " SELECT corr(is_churned::int, quality) FROM q JOIN raw.customers USING (customer_id)"
        ).fetchone()[0]
    assert 0.20 <= churn["Basic"] <= 0.40
    assert churn["Enterprise"] < 0.10
    assert churn["Basic"] > churn["Premium"] > churn["Enterprise"]
    assert corr < -0.1


def test_quality_by_hour_and_location(signal_db: str) -> None:
    with connect(signal_db) as conn:
        evening, night = conn.execute(
            "SELECT avg(network_quality_score) FILTER (WHERE hour BETWEEN 18 AND 22)::float8,"
            " avg(network_quality_score) FILTER (WHERE hour BETWEEN 0 AND 5)::float8"
            " FROM (SELECT *, extract(hour FROM event_timestamp) AS hour FROM raw.network_events) e"
        ).fetchone()
        by_location = dict(
            conn.execute(
                "SELECT location, avg(network_quality_score)::float8 FROM raw.network_events"
                " JOIN raw.customers USING (customer_id) GROUP BY 1"
            )
        )
        daytime_share = conn.execute(
            "SELECT avg((extract(hour FROM event_timestamp) BETWEEN 8 AND 22)::int)::float8"
            " FROM raw.network_events"
        ).fetchone()[0]
    assert evening < night - 0.4
    assert by_location["North"] == min(by_location.values())
    assert by_location["Central"] == max(by_location.values())
    assert by_location["Central"] - by_location["North"] > 0.8
    assert daytime_share > 0.8


def test_usage_falls_before_churn(signal_db: str) -> None:
    # Per churner: events and MB in the last full month before the churn month, and in
    # the month three months before that, for churners active through both months.
    last, before = scalar_row(
        signal_db,
        "WITH c AS (SELECT customer_id, date_trunc('month', churn_date) AS churn_month FROM raw.customers"
        "  WHERE is_churned AND created_at < date_trunc('month', churn_date) - interval '4 months'"
        "  AND date_trunc('month', churn_date) - interval '4 months' >= %s),"
        " m AS (SELECT c.customer_id,"
        "  count(*) FILTER (WHERE e.event_timestamp >= churn_month - interval '1 month'"
        "   AND e.event_timestamp < churn_month) AS last_n,"
        "  count(*) FILTER (WHERE e.event_timestamp >= churn_month - interval '4 months'"
        "   AND e.event_timestamp < churn_month - interval '3 months') AS before_n"
        "  FROM c JOIN raw.network_events e USING (customer_id) GROUP BY 1)"
        " SELECT avg(last_n)::float8, avg(before_n)::float8 FROM m",
        (WINDOW_START,),
    )
    assert last < 0.8 * before
    last_mb, before_mb = scalar_row(
        signal_db,
        "WITH c AS (SELECT customer_id, date_trunc('month', churn_date) AS churn_month FROM raw.customers"
        "  WHERE is_churned AND created_at < date_trunc('month', churn_date) - interval '4 months'"
        "  AND date_trunc('month', churn_date) - interval '4 months' >= %s)"
        " SELECT (sum(data_usage_mb) FILTER (WHERE event_timestamp >= churn_month - interval '1 month'"
        "  AND event_timestamp < churn_month))::float8,"
        " (sum(data_usage_mb) FILTER (WHERE event_timestamp >= churn_month - interval '4 months'"
        "  AND event_timestamp < churn_month - interval '3 months'))::float8"
        " FROM c JOIN raw.network_events USING (customer_id)",
        (WINDOW_START,),
    )
    assert last_mb < 0.7 * before_mb


def test_revenue_by_account_type(signal_db: str) -> None:
    with connect(signal_db) as conn:
        arpu = dict(
            conn.execute(
                "SELECT account_type, (sum(amount)"
                " / count(DISTINCT (customer_id, date_trunc('month', transaction_date))))::float8"
                " FROM raw.revenue JOIN raw.customers USING (customer_id) GROUP BY 1"
            )
        )
        bank_share = dict(
            conn.execute(
                "SELECT account_type, avg((payment_method = 'bank_transfer')::int)::float8"
                " FROM raw.revenue JOIN raw.customers USING (customer_id) GROUP BY 1"
            )
        )
        services = {r[0] for r in conn.execute("SELECT DISTINCT service_type FROM raw.revenue")}
        subs_per_month = conn.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM raw.revenue WHERE service_type = 'subscription'"
            " GROUP BY customer_id, date_trunc('month', transaction_date)) s"
        ).fetchone()[0]
    assert arpu["Enterprise"] > arpu["Premium"] > arpu["Basic"] > 15
    assert bank_share["Enterprise"] > 0.6 > 0.2 > bank_share["Basic"]
    assert services == {"subscription", "voice", "sms", "data"}
    assert subs_per_month == 1


def scalar_row(url: str, sql: str, params: tuple = ()) -> tuple:
    with connect(url) as conn:
        return tuple(conn.execute(sql, params).fetchone())
