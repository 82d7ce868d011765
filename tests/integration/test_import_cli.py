"""`telcopulse import` through the real command against a real PostgreSQL: every format,
messy records kept aside with exact reasons, idempotent re-imports, upserts, refused files
that change nothing, and a killed import that leaves raw.* as it was."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from tests.import_fixtures import (
    write_binary_junk,
    write_csv,
    write_image_only_pdf,
    write_parquet,
    write_pdf_statement,
    write_truncated_parquet,
)
from warehouse.db import connect
from warehouse.raw_schema import TABLES

pytestmark = pytest.mark.integration

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")
NS = uuid.UUID("5f0c1e52-8f0e-4d59-9a53-6c1d0b6a7f10")
CUSTOMER_HEADER = list(TABLES["customers"].column_names)
EVENT_HEADER = list(TABLES["network_events"].content_columns)  # no event_id: keys derived


def cid(n: int) -> str:
    return str(uuid.uuid5(NS, f"customer-{n}"))


def run_import(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [TELCOPULSE, "import", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def scalar(url: str, query: str, *params: object) -> object:
    with connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def raw_checksums(url: str) -> dict[str, object]:
    tables = ["raw.customers", "raw.network_events", "raw.revenue", "ops.import_rejects"]
    return {
        t: scalar(
            url,
            f"SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM {t} x",
        )
        for t in tables
    }


def rejects(url: str, source: Path) -> dict[str, str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT record_number, reason FROM ops.import_rejects WHERE source_file = %s ORDER BY record_index",
            (str(source.resolve()),),
        ).fetchall()
    return dict(rows)


def last_import(url: str, source: Path) -> dict[str, object]:
    with connect(url) as conn:
        cur = conn.execute(
            "SELECT * FROM ops.imports WHERE source_file = %s ORDER BY finished_at DESC LIMIT 1",
            (str(source.resolve()),),
        )
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def import_one_customer(url: str, folder: Path) -> None:
    seed = write_csv(
        folder / "seed.csv",
        CUSTOMER_HEADER,
        [[cid(1), "2025-01-15", "34", "Male", "North", "Basic", "false", ""]],
    )
    assert run_import(url, str(seed), "--table", "customers").returncode == 0


def messy_customers(path: Path) -> Path:
    rows = [
        [cid(1), "2025-01-15", "34", "Male", "North", "Basic", "false", ""],
        [cid(2), "2025-02-01 10:00:00", "45", "Female", "Central", "premium", "FALSE", ""],
        [cid(3), "2025-01-01", "29", "Other", "East", "Enterprise", "true", "2026-03-01"],
        [cid(4), "2025-03-03T08:00:00Z", "", "", "West", "Basic", "", ""],
        [cid(5), "2025-01-10", "7", "Male", "North", "Basic", "false", ""],
        [cid(6), "2025-01-10", "abc", "Male", "North", "Basic", "false", ""],
        [cid(7), "2025-01-10", "40", "Male", "North", "Gold", "false", ""],
        ["not-a-uuid", "2025-01-10", "40", "Male", "North", "Basic", "false", ""],
        [cid(9), "2025-01-10", "40", "Male", "North", "Basic", "true", ""],
        [cid(10), "2025-01-10", "40", "Male", "North", "Basic", "false", "2026-01-01"],
        [cid(11), "2025-05-10", "40", "Male", "North", "Basic", "true", "2025-01-01"],
        [cid(1), "2025-01-15", "34", "Male", "North", "Basic", "false", ""],
        [cid(13), "2025-01-10", "150", "X", "North", "Basic", "false", ""],
        [cid(14), "2025-01-10", "40", "Male", "North", "Basic", "false", "", "surplus"],
        [cid(15), "", "40", "Male", "North", "Basic", "false", ""],
    ]
    return write_csv(path, CUSTOMER_HEADER, rows)


def events_tsv(path: Path) -> Path:
    stranger = str(uuid.uuid5(NS, "nobody"))
    rows = [
        [cid(1), "2026-05-01 10:00:00", "call", "3.5", "120", "0"],
        [cid(2), "2026-05-01 11:00:00", "data", "4.25", "300", "52.5"],
        [cid(3), "2026-02-01 09:30:00", "sms", "2", "0", "0"],
        [cid(3), "2026-04-01 09:30:00", "sms", "2", "0", "0"],
        [stranger, "2026-05-01 12:00:00", "call", "3", "60", "0"],
        [cid(1), "2024-12-01 12:00:00", "call", "3", "60", "0"],
        [cid(2), "2026-05-02 12:00:00", "call", "5.5", "60", "0"],
        [cid(2), "2026-05-02 12:00:00", "mms", "3", "60", "0"],
        [cid(4), "2026-05-02 12:00:00", "call", "3", "-5", "0"],
    ]
    return write_csv(path, EVENT_HEADER, rows, delimiter="\t", bom=True)


def test_every_format_through_the_cli(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url

    # 1. Messy CRM export: 4 good records, 11 kept aside with their reasons.
    customers = messy_customers(tmp_path / "crm_export.csv")
    done = run_import(url, str(customers), "--table", "customers")
    assert done.returncode == 0, done.stderr
    assert "4 loaded, 11 rejected, 0 duplicate" in done.stdout
    assert "Traceback" not in done.stderr
    assert scalar(url, "SELECT count(*) FROM raw.customers") == 4
    assert scalar(url, "SELECT account_type FROM raw.customers WHERE customer_id = %s", cid(2)) == "Premium"
    assert scalar(url, "SELECT is_churned FROM raw.customers WHERE customer_id = %s", cid(4)) is False
    assert scalar(url, "SELECT created_at FROM raw.customers WHERE customer_id = %s", cid(4)) == dt.datetime(
        2025, 3, 3, 8
    )
    found = rejects(url, customers)
    assert found == {
        "line 6": "age: must be between 18 and 120, got '7'",
        "line 7": "age: not a whole number, got 'abc'",
        "line 8": "account_type: must be one of Basic, Premium, Enterprise, got 'Gold'",
        "line 9": "customer_id: not a UUID, got 'not-a-uuid'",
        "line 10": "churn_date: required when is_churned is true",
        "line 11": "is_churned: false but churn_date is set (2026-01-01 00:00:00)",
        "line 12": "churn_date: before created_at (2025-01-01 00:00:00 < 2025-05-10 00:00:00)",
        "line 13": f"customer_id: duplicate key {cid(1)} in this file (first at line 2)",
        "line 14": "age: must be between 18 and 120, got '150'; "
        "gender: must be one of Male, Female, Other, Unspecified, got 'X'",
        "line 15": "record: more fields than the header, extra 'surplus'",
        "line 16": "created_at: required, missing",
    }
    record = scalar(url, "SELECT record FROM ops.import_rejects WHERE record_number = 'line 6'")
    assert record["age"] == "7" and record["customer_id"] == cid(5)
    row = last_import(url, customers)
    assert (row["status"], row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (
        "loaded",
        15,
        4,
        11,
    )
    assert row["format"] == "csv" and len(row["sha256"]) == 64

    # 2. TSV with a BOM, no event_id column: keys derived, orphans and impossible events rejected.
    events = events_tsv(tmp_path / "cdr_may.tsv")
    done = run_import(url, str(events), "--table", "network_events")
    assert done.returncode == 0, done.stderr
    assert "3 loaded, 6 rejected, 0 duplicate" in done.stdout
    found = rejects(url, events)
    assert (
        found["line 5"]
        == "event_timestamp: after the customer churned on 2026-03-01 00:00:00, got 2026-04-01 09:30:00"
    )
    assert found["line 6"].startswith("customer_id: unknown customer ")
    assert (
        found["line 7"]
        == "event_timestamp: before the customer signed up on 2025-01-15 00:00:00, got 2024-12-01 12:00:00"
    )
    assert found["line 8"] == "network_quality_score: must be between 1 and 5, got '5.5'"
    assert found["line 9"] == "event_type: must be one of call, sms, data, got 'mms'"
    assert found["line 10"] == "duration_seconds: must be at least 0, got '-5'"
    assert len(found) == 6
    assert last_import(url, events)["affected_days"] == [dt.date(2026, 2, 1), dt.date(2026, 5, 1)]
    assert scalar(url, "SELECT sum(data_usage_mb)::float8 FROM raw.network_events") == pytest.approx(52.5)

    # 3. The same file again: nothing loaded, said so, exit 0.
    before = raw_checksums(url)
    again = run_import(url, str(events), "--table", "network_events")
    assert again.returncode == 0, again.stderr
    assert "already imported" in again.stdout
    assert raw_checksums(url) == before

    # 4. Parquet with native types and no transaction_id.
    bills = pd.DataFrame(
        {
            "customer_id": [cid(1), cid(2), cid(2), cid(4), cid(1)],
            "transaction_date": pd.to_datetime(
                ["2026-05-01", "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"]
            ),
            "amount": [30.0, 55.123, 12.5, -3.0, 0.0],
            "service_type": ["subscription", "data", "voice", "sms", "sms"],
            "payment_method": ["credit_card", "debit_card", "bank_transfer", "mobile_wallet", "credit_card"],
        }
    )
    parquet = write_parquet(tmp_path / "bills.parquet", bills)
    done = run_import(url, str(parquet), "--table", "revenue")
    assert done.returncode == 0, done.stderr
    assert "4 loaded, 1 rejected" in done.stdout
    assert rejects(url, parquet) == {"row 4": "amount: must be at least 0, got '-3.0'"}
    assert scalar(url, "SELECT sum(amount)::float8 FROM raw.revenue") == pytest.approx(97.62)

    # 5. A three-page PDF statement with the header on every page; one bad amount on page 2.
    header = ["customer_id", "transaction_date", "amount", "service_type", "payment_method"]
    lines = [
        [cid(1 + i % 2), f"2026-04-{1 + i % 28:02d}", f"{10 + i}.50", "voice", "credit_card"]
        for i in range(70)
    ]
    lines[30][2] = "abc"
    pdf = write_pdf_statement(tmp_path / "statement.pdf", header, lines, rows_per_page=30)
    done = run_import(url, str(pdf), "--table", "revenue")
    assert done.returncode == 0, done.stderr
    assert "69 loaded, 1 rejected" in done.stdout
    assert rejects(url, pdf) == {"page 2 row 1": "amount: not a number, got 'abc'"}
    assert scalar(url, "SELECT count(*) FROM raw.revenue") == 4 + 69
    again = run_import(url, str(pdf), "--table", "revenue")
    assert "already imported" in again.stdout and scalar(url, "SELECT count(*) FROM raw.revenue") == 73

    # 6. A newer CRM export: one customer churned, one unchanged, one new.
    update = write_csv(
        tmp_path / "crm_export_v2.csv",
        CUSTOMER_HEADER,
        [
            [cid(1), "2025-01-15", "34", "Male", "North", "Basic", "true", "2026-06-01"],
            [cid(2), "2025-02-01 10:00:00", "45", "Female", "Central", "Premium", "false", ""],
            [cid(20), "2025-07-01", "52", "Female", "South", "Enterprise", "false", ""],
        ],
    )
    done = run_import(url, str(update), "--table", "customers")
    assert done.returncode == 0, done.stderr
    assert "1 loaded, 0 rejected, 1 duplicate, 1 updated" in done.stdout
    assert scalar(url, "SELECT churn_date FROM raw.customers WHERE customer_id = %s", cid(1)) == dt.datetime(
        2026, 6, 1
    )
    assert scalar(url, "SELECT count(*) FROM raw.customers") == 5
    assert last_import(url, update)["history_changed"] is False
    assert scalar(url, "SELECT count(*) FROM ops.raw_loads WHERE kind = 'import'") == 5


def test_mapping_adapts_a_foreign_export(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    source = write_csv(
        tmp_path / "telco_churn.csv",
        ["customerID", "SignupDate", "Contract", "Churn", "gender", "SeniorCitizen", "TotalCharges"],
        [
            [cid(1), "15/01/2025", "Month-to-month", "No", "Female", "0", "29.85"],
            [cid(2), "01/02/2025", "Two year", "No", "Male", "1", "1889.5"],
            [cid(3), "31/12/2024", "One year", "Yes", "Male", "0", "108.15"],
            [cid(4), "2025-01-01", "One year", "No", "Male", "0", "10"],
        ],
    )
    mapping = tmp_path / "telco_churn.yml"
    mapping.write_text(
        "columns:\n  customerID: customer_id\n  SignupDate: created_at\n  Contract: account_type\n"
        "  Churn: is_churned\n"
        "values:\n  Contract: {Month-to-month: Basic, One year: Premium, Two year: Enterprise}\n"
        "  Churn: {Yes: true, No: false}\n"
        "constants:\n  location: Central\n"
        'dates:\n  SignupDate: "%d/%m/%Y"\n'
        "ignore: [SeniorCitizen, TotalCharges]\n"
    )
    done = run_import(url, str(source), "--table", "customers", "--mapping", str(mapping))
    assert done.returncode == 0, done.stderr
    assert "2 loaded, 2 rejected" in done.stdout
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT customer_id::text, created_at::date, account_type, gender, location, is_churned"
            " FROM raw.customers ORDER BY created_at"
        ).fetchall()
    assert rows == [
        (cid(1), dt.date(2025, 1, 15), "Basic", "Female", "Central", False),
        (cid(2), dt.date(2025, 2, 1), "Enterprise", "Male", "Central", False),
    ]
    assert rejects(url, source) == {
        "line 4": "churn_date: required when is_churned is true",
        "line 5": "created_at: not a date as %d/%m/%Y, got '2025-01-01'",
    }
    assert last_import(url, source)["mapping"]["ignore"] == ["SeniorCitizen", "TotalCharges"]

    bad_mapping = tmp_path / "bad.yml"
    bad_mapping.write_text("columns:\n  customerID: client_number\n")
    done = run_import(url, str(source), "--table", "customers", "--mapping", str(bad_mapping))
    assert done.returncode == 2
    assert done.stderr.startswith("ValidationError: the mapping names 'client_number'")


@pytest.mark.parametrize(
    ("name", "make", "table", "message"),
    [
        ("junk.csv", write_binary_junk, "customers", "not a text file"),
        ("scan.pdf", write_image_only_pdf, "revenue", "OCR is not supported"),
        ("cut.parquet", write_truncated_parquet, "revenue", "not a readable Parquet file"),
        (
            "wrong.csv",
            lambda p: write_csv(
                p, ["customer_id", "created_at", "plan", "msisdn"], [[cid(1), "2025-01-01", "x", "1"]]
            ),
            "customers",
            "unknown columns for raw.customers: plan, msisdn",
        ),
        (
            "partial.csv",
            lambda p: write_csv(p, ["customer_id", "event_type"], [[cid(1), "call"]]),
            "network_events",
            "missing required columns for raw.network_events: event_timestamp",
        ),
    ],
)
def test_unusable_files_are_refused_whole(
    empty_database_url: str, tmp_path: Path, name: str, make: object, table: str, message: str
) -> None:
    url = empty_database_url
    import_one_customer(url, tmp_path)
    before = raw_checksums(url)
    path = make(tmp_path / name)  # type: ignore[operator]
    done = run_import(url, str(path), "--table", table)
    assert done.returncode == 1, done.stdout
    assert message in done.stderr
    assert done.stderr.startswith(f"Refused: {name}: ")
    assert done.stderr.strip().endswith("Nothing was written.")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert raw_checksums(url) == before
    row = last_import(url, path)
    assert row["status"] == "refused" and message in row["error"]


def test_killed_import_changes_nothing_and_can_be_rerun(empty_database_url: str, tmp_path: Path) -> None:
    url = empty_database_url
    import_one_customer(url, tmp_path)
    start = dt.datetime(2025, 2, 1)
    rows = 200_000
    big = tmp_path / "big_cdr.csv"
    frame = pd.DataFrame(
        {
            "customer_id": cid(1),
            "event_timestamp": [start + dt.timedelta(seconds=37 * i) for i in range(rows)],
            "event_type": "call",
            "network_quality_score": 3.5,
            "duration_seconds": 60,
            "data_usage_mb": 0,
        }
    )
    frame.to_csv(big, index=False)
    before = raw_checksums(url)
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen(
        [TELCOPULSE, "import", str(big), "--table", "network_events", "--chunk-rows", "10000", "--verbose"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = 0
    assert process.stderr is not None
    for line in process.stderr:
        if "records read" in line:
            seen += 1
            if seen == 3:
                break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert seen == 3, "the import finished before it could be killed"
    assert raw_checksums(url) == before
    assert (
        scalar(
            url, "SELECT count(*) FROM ops.imports WHERE status = 'loaded' AND table_name = 'network_events'"
        )
        == 0
    )

    done = run_import(url, str(big), "--table", "network_events", timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{rows:,} loaded, 0 rejected" in done.stdout
    assert scalar(url, "SELECT count(*) FROM raw.network_events") == rows
