"""Generator throughput vs a plain COPY of the same rows from a file.

For each size: time `generate()` (synthesis + COPY in one transaction), dump the three
tables to CSV files, truncate, and time a bare `COPY ... FROM file` of the same rows. The
ratio says how much the synthesis costs on top of the load itself.

    .venv/bin/python -m bench.generator_throughput --customers 10000 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
from pathlib import Path

from bench.common import machine, scratch_database, timer
from warehouse.db import connect
from warehouse.generator import generate

TABLES = ("customers", "network_events", "revenue")


def plain_copy_seconds(url: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        files = {t: Path(tmp) / f"{t}.csv" for t in TABLES}
        with connect(url) as conn:
            for table, path in files.items():
                with (
                    path.open("wb") as out,
                    conn.cursor().copy(f"COPY raw.{table} TO STDOUT (FORMAT csv)") as cp,
                ):
                    for chunk in cp:
                        out.write(chunk)
            conn.execute("TRUNCATE raw.customers CASCADE")
            conn.commit()
        with connect(url) as conn, timer() as t:
            for table, path in files.items():
                with (
                    path.open("rb") as src,
                    conn.cursor().copy(f"COPY raw.{table} FROM STDIN (FORMAT csv)") as cp,
                ):
                    while block := src.read(1 << 20):
                        cp.write(block)
            conn.commit()
    return t[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        f"{'customers':>10} {'rows':>12} {'generate s':>11} {'rows/s':>10} {'COPY s':>8} "
        f"{'COPY rows/s':>12} {'ratio':>6} {'peak RSS MiB':>13}"
    )
    for n in args.customers:
        with scratch_database() as url:
            report = generate(url, customers=n, seed=42, end_date=dt.date(2026, 10, 31), progress=False)
            rows = report.customers + report.network_events + report.revenue
            copy_s = plain_copy_seconds(url)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{n:>10,} {rows:>12,} {report.seconds:>11.1f} {rows / report.seconds:>10,.0f} "
                f"{copy_s:>8.1f} {rows / copy_s:>12,.0f} {report.seconds / copy_s:>6.2f} {rss:>13,.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
