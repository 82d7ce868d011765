"""Full pipeline time at several sizes, and an incremental refresh of one new day.

Full pipeline = generate + `dbt build` (models and tests). Incremental = `append_day` then
`dbt build` (fct_network_quality_daily re-processes only the look-back window), compared
with `dbt build --full-refresh` on the same data.

    .venv/bin/python -m bench.pipeline_scaling --customers 10000 100000
"""

from __future__ import annotations

import argparse
import datetime as dt

from bench.common import dbt, machine, scratch_database
from warehouse.db import connect
from warehouse.generator import append_day, generate

END = dt.date(2026, 10, 31)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    results = []
    for n in args.customers:
        with scratch_database() as url:
            report = generate(url, customers=n, seed=42, end_date=END, progress=False)
            build_s = dbt(url, "build")
            append_day(url, day=END + dt.timedelta(days=1), seed=42)
            incremental_s = dbt(url, "build")
            full_refresh_s = dbt(url, "build", "--full-refresh")
            # The incremental model alone: one more day, then the same model rebuilt in full.
            append_day(url, day=END + dt.timedelta(days=2), seed=42)
            mart_incremental_s = dbt(url, "run", "-s", "fct_network_quality_daily")
            mart_full_s = dbt(url, "run", "-s", "fct_network_quality_daily", "--full-refresh")
            with connect(url) as conn:
                days = conn.execute("SELECT max(event_date) FROM marts.fct_network_quality_daily").fetchone()[
                    0
                ]
            assert days == END + dt.timedelta(days=2), days
            total = report.seconds + build_s
            results.append(
                (n, report.network_events, report.seconds, build_s, total, incremental_s, full_refresh_s)
            )
            print(
                f"{n:>8,} customers {report.network_events:>11,} events: generate {report.seconds:6.1f}s, "
                f"dbt build {build_s:6.1f}s, pipeline {total:6.1f}s | +1 day: incremental build "
                f"{incremental_s:6.1f}s vs full refresh {full_refresh_s:6.1f}s "
                f"(ratio {full_refresh_s / incremental_s:4.1f}x) | fct_network_quality_daily alone: "
                f"incremental {mart_incremental_s:5.1f}s vs full {mart_full_s:5.1f}s "
                f"(ratio {mart_full_s / mart_incremental_s:4.1f}x)",
                flush=True,
            )
    if len(results) >= 2:
        n0, t0 = results[0][0], results[0][4]
        n1, t1 = results[-1][0], results[-1][4]
        print(
            f"scaling {n0:,} → {n1:,} customers ({n1 / n0:.0f}x): pipeline time x{t1 / t0:.1f} "
            f"({'sub-linear or linear' if t1 / t0 <= n1 / n0 * 1.05 else 'SUPER-LINEAR'})"
        )


if __name__ == "__main__":
    main()
