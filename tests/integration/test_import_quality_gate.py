"""The batch quality gate inside `telcopulse import`: a batch that passes every record rule but
is plainly wrong (data usage in KB sent as MB) is refused whole against the warehouse's history,
while a small valid batch of the same shape loads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from tests.import_fixtures import write_csv
from tests.integration.test_import_cli import EVENT_HEADER, last_import, raw_checksums, run_import, scalar
from warehouse.db import connect
from warehouse.generator import generate

pytestmark = pytest.mark.integration

END = dt.date(2026, 10, 31)


def data_sessions(url: str, day: dt.date, n: int, scale: float, seed: int) -> list[list[object]]:
    """`n` data sessions on `day` by customers active then, usage drawn like the history's × scale."""
    with connect(url) as conn:
        customers = [
            r[0]
            for r in conn.execute(
                "SELECT customer_id::text FROM raw.customers WHERE created_at < %s AND churn_date IS NULL"
                " ORDER BY customer_id",
                (day,),
            ).fetchall()
        ]
        mean_mb = float(
            conn.execute(
                "SELECT avg(data_usage_mb) FROM raw.network_events WHERE event_type = 'data'"
            ).fetchone()[0]
        )
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        stamp = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(rng.integers(0, 86_000)))
        usage = round(float(rng.gamma(2.0, mean_mb / 2.0)) * scale, 2)
        rows.append(
            [customers[i % len(customers)], f"{stamp:%Y-%m-%d %H:%M:%S}", "data", "3.5", "300", usage]
        )
    return rows


def test_kb_for_mb_batch_is_refused_and_a_valid_one_loads(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    generate(url, customers=300, seed=5, end_date=END, history_months=2, progress=False)
    day = END - dt.timedelta(days=3)

    before = raw_checksums(url)
    bad = write_csv(tmp_path / "cdr_kb.csv", EVENT_HEADER, data_sessions(url, day, 200, 1000.0, seed=1))
    done = run_import(url, str(bad), "--table", "network_events")
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("Refused: cdr_kb.csv: the batch failed data-quality checks:")
    assert "data_usage_mb" in done.stderr and "Nothing was written." in done.stderr
    assert raw_checksums(url) == before
    assert last_import(url, bad)["status"] == "refused"

    good = write_csv(tmp_path / "cdr_ok.csv", EVENT_HEADER, data_sessions(url, day, 200, 1.0, seed=2))
    events_before = scalar(url, "SELECT count(*) FROM raw.network_events")
    done = run_import(url, str(good), "--table", "network_events")
    assert done.returncode == 0, done.stderr
    assert "200 loaded, 0 rejected" in done.stdout
    assert scalar(url, "SELECT count(*) FROM raw.network_events") == events_before + 200


def test_a_batch_with_no_history_to_compare_is_left_to_the_table_gate(empty_database_url: str) -> None:
    from orchestration.defs.quality.evaluate import evaluate_batch

    with connect(empty_database_url) as conn:
        conn.execute(
            "CREATE TEMP TABLE import_stage AS SELECT * FROM raw.network_events WITH NO DATA;"
            " INSERT INTO import_stage (event_id, customer_id, event_timestamp, event_type, data_usage_mb)"
            " VALUES (gen_random_uuid(), gen_random_uuid(), '2026-10-01 10:00', 'data', 52000)"
        )
        assert evaluate_batch(conn, "network_events", "import_stage") is None
