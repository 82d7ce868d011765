"""What the raw-data quality gate costs, as a share of a full refresh.

For each size: generate a warehouse, then
* time the gate alone: per table, the profile SQL (PostgreSQL) and the suite (Great
  Expectations on the profiles), with GX already imported;
* run a real full refresh in-process (the implicit global asset job, as `telcopulse
  refresh` does: raw step, the three blocking checks, `dbt build`, the analyses) and read
  the three `quality_gate` steps' durations from it (with Data Docs written).

    .venv/bin/python -m bench.quality_suites --customers 10000 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time

from bench.common import machine, scratch_database
from orchestration.definitions import build_definitions
from orchestration.defs.quality.evaluate import table_profiles, today_utc
from orchestration.resources import RedisResource, WarehouseResource
from quality import run_suite
from warehouse.db import connect
from warehouse.generator import generate
from warehouse.raw_schema import RAW_TABLE_NAMES

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def gate_alone(url: str, as_of: dt.date) -> tuple[float, float]:
    """(seconds of profile SQL, seconds of suites) over the three tables."""
    sql_s = suite_s = 0.0
    with connect(url) as conn:
        for table in RAW_TABLE_NAMES:
            started = time.perf_counter()
            window, recent, history, summary = table_profiles(conn, table, as_of=as_of)
            sql_s += time.perf_counter() - started
            started = time.perf_counter()
            result = run_suite(table, recent, history, window, summary=summary)
            suite_s += time.perf_counter() - started
            assert not result.failed, result.failure_lines()
    return sql_s, suite_s


def step_seconds(result: object) -> dict[str, float]:
    seconds = {}
    for event in result.all_events:  # type: ignore[attr-defined]
        if event.event_type_value == "STEP_SUCCESS" and event.step_key:
            seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    as_of = today_utc()
    import great_expectations  # noqa: F401  (the standalone timing excludes the one-off import)

    for n in args.customers:
        with scratch_database() as url, tempfile.TemporaryDirectory() as docs:
            report = generate(
                url, customers=n, seed=42, end_date=as_of - dt.timedelta(days=1), progress=False
            )
            sql_s, suite_s = gate_alone(url, as_of)
            defs = build_definitions(WarehouseResource(database_url=url), RedisResource(redis_url=REDIS_URL))
            job = defs.resolve_implicit_global_asset_job_def()
            config = {
                "resources": {
                    "quality": {"config": {"project_dir": f"{docs}/gx", "site_dir": f"{docs}/site"}}
                }
            }
            started = time.perf_counter()
            result = job.execute_in_process(raise_on_error=False, run_config=config)
            refresh_s = time.perf_counter() - started
            assert result.success, "refresh failed"
            steps = step_seconds(result)
            gate_s = sum(s for key, s in steps.items() if key.endswith("_quality_gate"))
            dbt_s = sum(s for key, s in steps.items() if "dbt" in key)
            print(
                f"{n:>8,} customers {report.network_events:>11,} events | gate alone: profile SQL "
                f"{sql_s:5.2f}s + suites {suite_s:5.2f}s = {sql_s + suite_s:5.2f}s | in the refresh: "
                f"gate steps {gate_s:5.2f}s "
                f"(with Data Docs), dbt {dbt_s:6.1f}s, whole refresh {refresh_s:6.1f}s → gate share "
                f"{gate_s / refresh_s:5.1%} (steady state {(sql_s + suite_s) / refresh_s:5.1%}); "
                f"vs generate+refresh {report.seconds + refresh_s:6.1f}s: "
                f"{gate_s / (report.seconds + refresh_s):5.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
