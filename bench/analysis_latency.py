"""analyze_data: cached vs uncached per analysis type, and compute time at two sizes.

For each size: a fresh warehouse (generate + dbt run, the build recorded as a data
version), then `telcopulse serve --transport http`, and per analysis type: the first call
(cache miss: load inputs over SQL, compute in a worker thread, store) and the median of
20 repeat calls (cache hit), both through the official MCP client over HTTP.

    .venv/bin/python -m bench.analysis_latency --customers 10000 100000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time

from analyses.registry import ANALYSES
from bench.common import (
    VENV_BIN,
    dbt,
    free_port,
    keyed_client,
    machine,
    scratch_database,
    server_env,
    serving,
)
from warehouse.db import connect
from warehouse.generator import generate

END = dt.date(2026, 10, 31)


async def _measure(url: str, key: str) -> dict[str, tuple[float, float]]:
    results = {}
    async with keyed_client(url, key, read_timeout_seconds=600) as client:
        for analysis_type in ANALYSES:
            args = {"data_source": "warehouse", "analysis_type": analysis_type}
            start = time.perf_counter()
            first = await client.call_tool("analyze_data", args)
            uncached = time.perf_counter() - start
            assert not first.is_error, first.content
            assert first.structured_content["metadata"]["cached"] is False
            hits = []
            for _ in range(20):
                start = time.perf_counter()
                again = await client.call_tool("analyze_data", args)
                hits.append(time.perf_counter() - start)
                assert again.structured_content["metadata"]["cached"] is True
            results[analysis_type] = (uncached, statistics.median(hits))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    table: dict[int, dict[str, tuple[float, float]]] = {}
    for n in args.customers:
        with scratch_database() as db, tempfile.TemporaryDirectory() as data_dir:
            report = generate(db, customers=n, seed=42, end_date=END, progress=False)
            dbt(db, "run")
            with connect(db) as conn:
                conn.execute(
                    "INSERT INTO ops.data_builds (build_id, source) VALUES (%s, 'bench')", (f"bench-{n}",)
                )
                conn.commit()
            port = free_port()
            key, env = server_env(db, data_dir)
            serve = [str(VENV_BIN / "telcopulse"), "serve", "--transport", "http"]
            with serving([*serve, "--port", str(port)], env, f"http://127.0.0.1:{port}/healthz"):
                table[n] = asyncio.run(_measure(f"http://127.0.0.1:{port}/mcp", key))
            print(f"\n{n:,} customers ({report.network_events:,} events)")
            print(f"{'analysis':16} {'uncached s':>11} {'cached ms':>10} {'ratio':>8}")
            for name, (miss, hit) in table[n].items():
                print(f"{name:16} {miss:11.2f} {hit * 1000:10.2f} {miss / hit:7.0f}x")
    if len(table) == 2:
        small, large = sorted(table)
        print(f"\nuncached time {large:,} / {small:,} customers:")
        for name in ANALYSES:
            print(f"{name:16} {table[large][name][0] / table[small][name][0]:.1f}x")


if __name__ == "__main__":
    main()
