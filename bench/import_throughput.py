"""Import throughput: `telcopulse import` of a network_events CSV vs a plain COPY of the same file.

For each size, in one run, each path on its own copy (CREATE DATABASE … TEMPLATE) of the same
warehouse (2,000 generated customers), so neither pays for the other's dead rows:
1. a plain `COPY raw.network_events FROM STDIN (FORMAT csv, HEADER)` of the file, committed;
2. `telcopulse import FILE --table network_events` in a subprocess (reading, validation,
   staging, the SQL rules, the move into raw, rejects), timed, with its peak RSS.
Then a PDF statement: pages per second through the same command.

    .venv/bin/python -m bench.import_throughput --rows 1000000 10000000 --pdf-pages 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import VENV_BIN, machine, scratch_database, timer
from warehouse.db import connect, database_name, drop_database, with_database
from warehouse.generator import generate
from warehouse.raw_schema import TABLES

COLUMNS = list(TABLES["network_events"].column_names)
END = dt.date(2026, 10, 31)
BLOCK = 500_000


def eligible_customers(url: str) -> np.ndarray:
    """Customers active over the whole last 30 days, so every synthetic event is valid."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT customer_id::text FROM raw.customers WHERE created_at < %s AND churn_date IS NULL",
            (END - dt.timedelta(days=30),),
        ).fetchall()
    return np.array([r[0] for r in rows], dtype=object)


def write_events_csv(path: Path, rows: int, customers: np.ndarray, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64(END - dt.timedelta(days=30), "s")
    with path.open("w") as out:
        out.write(",".join(COLUMNS) + "\n")
        for lo in range(0, rows, BLOCK):
            n = min(BLOCK, rows - lo)
            raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).view(np.uint64)
            hexes = [f"{a:016x}{b:016x}" for a, b in raw]
            ids = [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}" for h in hexes]
            types = rng.choice(np.array(["call", "sms", "data"]), n)
            frame = pd.DataFrame(
                {
                    "event_id": ids,
                    "customer_id": rng.choice(customers, n),
                    "event_timestamp": start + rng.integers(0, 30 * 86400, n).astype("timedelta64[s]"),
                    "event_type": types,
                    "network_quality_score": rng.uniform(1, 5, n).round(2),
                    "duration_seconds": np.where(types == "sms", 0, rng.integers(1, 900, n)),
                    "data_usage_mb": np.where(types == "data", rng.gamma(2, 30, n).round(2), 0.0),
                }
            )
            frame.to_csv(out, header=False, index=False)


def plain_copy(url: str, path: Path) -> float:
    with connect(url) as conn, timer() as t:
        with (
            conn.cursor().copy(
                f"COPY raw.network_events ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv, HEADER)"
            ) as copy,
            path.open("rb") as source,
        ):
            for block in iter(lambda: source.read(1 << 20), b""):
                copy.write(block)
        conn.commit()
    return t[0]


def telcopulse_import(url: str, path: Path, table: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) of the child, and its summary line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "telcopulse"), "import", str(path), "--table", table],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, done.stdout.splitlines()[0]


def pdf_pages_per_second(url: str, folder: Path, pages: int, customers: np.ndarray) -> tuple[float, str]:
    from tests.import_fixtures import write_pdf_statement

    rows_per_page = 40
    header = ["customer_id", "transaction_date", "amount", "service_type", "payment_method"]
    rows = [
        [
            customers[i % len(customers)],
            f"2026-10-{1 + i % 28:02d}",
            f"{5 + i % 90}.99",
            "voice",
            "credit_card",
        ]
        for i in range(pages * rows_per_page)
    ]
    path = write_pdf_statement(folder / "statement.pdf", header, rows, rows_per_page=rows_per_page)
    seconds, _, summary = telcopulse_import(url, path, "revenue")
    return pages / seconds, summary


@contextmanager
def clone(url: str) -> Iterator[str]:
    """A copy of the database at `url` (which must have no open connections), dropped on exit."""
    name = f"tp_bench_clone_{uuid.uuid4().hex[:8]}"
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{database_name(url)}"')
    try:
        yield with_database(url, name)
    finally:
        drop_database(url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--pdf-pages", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        generate(url, customers=2_000, seed=3, end_date=END, history_months=2, progress=False)
        customers = eligible_customers(url)
        print(f"{len(customers)} customers eligible for synthetic events")
        print(
            "| rows | file MiB | plain COPY s | rows/s | import s | rows/s | import ÷ COPY | peak RSS MiB |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for rows in args.rows:
            path = Path(tmp) / f"events_{rows}.csv"
            write_events_csv(path, rows, customers)
            size = path.stat().st_size / 2**20
            with clone(url) as copy_url:
                copy_s = plain_copy(copy_url, path)
            with clone(url) as import_url:
                import_s, rss, summary = telcopulse_import(import_url, path, "network_events")
            assert f"{rows:,} loaded" in summary, summary
            print(
                f"| {rows:,} | {size:,.0f} | {copy_s:.1f} | {rows / copy_s:,.0f} | {import_s:.1f} | "
                f"{rows / import_s:,.0f} | {import_s / copy_s:.2f}× | {rss:,.0f} |",
                flush=True,
            )
            with connect(url) as conn:  # the next size starts from the same table
                conn.execute(
                    "DELETE FROM raw.network_events WHERE event_timestamp >= %s",
                    (END - dt.timedelta(days=30),),
                )
                conn.execute("DELETE FROM ops.imports")
                conn.commit()
            path.unlink()
        rate, summary = pdf_pages_per_second(url, Path(tmp), args.pdf_pages, customers)
        print(f"PDF: {args.pdf_pages} pages → {rate:.1f} pages/s ({summary})")


if __name__ == "__main__":
    main()
