"""export_result vs PostgreSQL's own `COPY (query) TO STDOUT`: rows per second, side by side.

A scratch warehouse (migrations only: the query needs no data), `telcopulse serve --transport
http`, and one query of N generated rows (a number, a 32-character text, a numeric and a date).
Ours: `export_result` over MCP (the guard, the query role, a server-side cursor, the writer,
the file's sha256), timed at the client. Floor: `COPY (the same query) TO STDOUT (FORMAT csv)`
into a file with psycopg, as the superuser, nothing checked.

    .venv/bin/python -m bench.export_throughput --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import VENV_BIN, free_port, keyed_client, machine, scratch_database, server_env, serving
from warehouse.db import connect


def _query(rows: int) -> str:
    return (
        "SELECT g AS n, md5(g::text) AS h, (g * 1.5)::numeric(12, 2) AS amount, "
        f"DATE '2026-01-01' + g % 365 AS day FROM generate_series(1, {rows}) AS g"
    )


def _copy(db: str, query: str, target: Path) -> float:
    start = time.perf_counter()
    statement = f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"
    with (
        connect(db) as conn,
        conn.cursor() as cursor,
        target.open("wb") as out,
        cursor.copy(statement) as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    return time.perf_counter() - start


async def _export(url: str, key: str, query: str, fmt: str) -> tuple[float, int]:
    async with keyed_client(url, key, read_timeout_seconds=900) as client:
        start = time.perf_counter()
        result = await client.call_tool("export_result", {"format": fmt, "query": query})
        elapsed = time.perf_counter() - start
        assert not result.is_error, result.content
        return elapsed, result.structured_content["bytes"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    query = _query(args.rows)
    with scratch_database() as db, tempfile.TemporaryDirectory() as data_dir:
        copy_s = _copy(db, query, Path(data_dir) / "copy.csv")
        copy_bytes = (Path(data_dir) / "copy.csv").stat().st_size
        key, env = server_env(db, data_dir)
        port = free_port()
        serve = [str(VENV_BIN / "telcopulse"), "serve", "--transport", "http", "--port", str(port)]
        with serving(serve, env, f"http://127.0.0.1:{port}/healthz"):
            url = f"http://127.0.0.1:{port}/mcp"
            results = {fmt: asyncio.run(_export(url, key, query, fmt)) for fmt in ("csv", "parquet")}
    print(f"\n{args.rows:,} rows")
    print(f"{'path':34} {'seconds':>8} {'rows/s':>10} {'MB':>7} {'vs COPY':>8}")
    rows = [("COPY (query) TO STDOUT, csv", copy_s, copy_bytes)]
    rows += [(f"export_result, {fmt}", seconds, size) for fmt, (seconds, size) in results.items()]
    for name, seconds, size in rows:
        ratio = f"{seconds / copy_s:.1f}x"
        print(f"{name:34} {seconds:8.2f} {args.rows / seconds:10,.0f} {size / 1e6:7.1f} {ratio:>8}")


if __name__ == "__main__":
    main()
