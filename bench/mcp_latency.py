"""MCP server latency and load, measured side by side in one run.

Targets, each called with the same mart query:
  direct   - asyncpg pool in this process (the database floor)
  bare     - bench.bare_mcp_server over streamable HTTP (the SDK floor)
  ours     - `telcopulse serve --transport http`, result cache off (uncached path)
  cached   - the same server with the result cache on, after one warm-up call
Then C concurrent MCP clients call `query_mart` on our server for D seconds.

Then the cost of observability: four servers (result cache off), tracing off (metrics are
always on), tracing with 1 % and with 10 % of traces sampled, and with every trace sampled,
all exporting over OTLP/HTTP to a receiver in this process. Sequential `query_database`
latency interleaved across the four; then C clients against each in turn (rounds alternate,
to even out drift), with each server's CPU time per call read from /proc next to the
throughput; and the cost of recording one call's metrics, timed directly.

    .venv/bin/python -m bench.mcp_latency --customers 5000 --calls 300 --clients 200 --duration 30
    .venv/bin/python -m bench.mcp_latency --observability-only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import asyncpg
from mcp import Client

from bench.common import (
    dbt,
    free_port,
    keyed_client,
    machine,
    scratch_database,
    server_env,
    serving,
)
from warehouse.db import as_url
from warehouse.generator import generate

END = dt.date(2026, 10, 31)
QUERIES = {  # name: (sql, sequential calls per target)
    "light: ARPU by month for one account type (mart, 13 rows)": (
        "SELECT month, account_type, sum(revenue) AS revenue, max(active_customers) AS active_customers "
        "FROM marts.fct_arpu_monthly WHERE account_type = 'Basic' GROUP BY 1, 2 ORDER BY 1",
        300,
    ),
    "medium: feature averages by segment (customer_features, 24 rows)": (
        "SELECT location, account_type, avg(avg_quality_score) AS quality, avg(usage_trend) AS trend, "
        "count(*) AS customers FROM marts.customer_features GROUP BY 1, 2 ORDER BY 1, 2",
        200,
    ),
    "heavy: quality by location and hour over all events (staging view, 192 rows)": (
        "SELECT location, event_hour, avg(network_quality_score) AS quality, count(*) AS events "
        "FROM staging.stg_telco__network_events e JOIN staging.stg_telco__customers c USING (customer_id) "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        40,
    ),
}
BIN = Path(sys.executable).parent


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _latencies(
    targets: dict[str, Callable[[], Awaitable[object]]], calls: int
) -> dict[str, list[float]]:
    for call in targets.values():  # warm-up: connections, prepared plans, caches
        for _ in range(5):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(calls):  # interleaved, so drift hits every target alike
        for name, call in targets.items():
            start = time.perf_counter()
            await call()
            samples[name].append(time.perf_counter() - start)
    return samples


MART_CALL = (
    "query_mart",
    lambda i: {
        "mart": "fct_arpu_monthly",
        "columns": ["month", "sum(revenue)"],
        "filters": [{"column": "account_type", "value": ("Basic", "Premium", "Enterprise")[i % 3]}],
        "group_by": ["month"],
    },
)
BARE_CALL = (
    "run_query",
    lambda i: {
        "sql": "SELECT month, sum(revenue) AS sum_revenue FROM marts.fct_arpu_monthly "
        f"WHERE account_type = '{('Basic', 'Premium', 'Enterprise')[i % 3]}' GROUP BY 1 ORDER BY 1"
    },
)


async def _load(
    url: str,
    clients: int,
    duration: float,
    call: tuple[str, Callable[[int], dict]] = MART_CALL,
    key: str | None = None,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + duration

    async def worker(index: int) -> None:
        nonlocal errors
        try:
            async with keyed_client(url, key, read_timeout_seconds=120) as client:
                i = index
                while time.monotonic() < stop_at:
                    i += 1
                    start = time.perf_counter()
                    result = await client.call_tool(call[0], call[1](i))
                    latencies.append(time.perf_counter() - start)
                    if result.is_error:
                        errors += 1
        except Exception:
            errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    return {
        "calls": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50": _pct(latencies, 0.50),
        "p95": _pct(latencies, 0.95),
        "p99": _pct(latencies, 0.99),
        "errors": errors,
    }


def _report(title: str, samples: dict[str, list[float]], calls: int) -> None:
    p50 = {name: _pct(s, 0.5) for name, s in samples.items()}
    p95 = {name: _pct(s, 0.95) for name, s in samples.items()}
    print(f"\n{title}: sequential latency, {calls} calls each, interleaved (ms)")
    print(f"{'target':30} {'p50':>8} {'p95':>8}")
    for name in samples:
        print(f"{name:30} {p50[name]:8.2f} {p95[name]:8.2f}")
    direct, bare, ours, cached = list(samples)
    print(
        f"ratios p50/p95: ours uncached vs direct {p50[ours] / p50[direct]:.2f}x / "
        f"{p95[ours] / p95[direct]:.2f}x; "
        f"ours uncached vs bare {p50[ours] / p50[bare]:.2f}x / {p95[ours] / p95[bare]:.2f}x; "
        f"bare vs direct {p50[bare] / p50[direct]:.2f}x; cached vs uncached {p50[cached] / p50[ours]:.2f}x"
    )


async def _measure(url: str, args: argparse.Namespace, env: dict[str, str]) -> None:
    ports = {name: free_port() for name in ("bare", "ours", "cached")}
    uncached_env = {**env, "TELCOPULSE_QUERY_CACHE_TTL": "0"}
    serve = [str(BIN / "telcopulse"), "serve", "--transport", "http", "--port"]
    with (
        serving(
            [sys.executable, "-m", "bench.bare_mcp_server", str(ports["bare"])],
            env,
            f"http://127.0.0.1:{ports['bare']}/mcp",
        ),
        serving([*serve, str(ports["ours"])], uncached_env, f"http://127.0.0.1:{ports['ours']}/healthz"),
        serving(
            [*serve, str(ports["cached"])], env, f"http://127.0.0.1:{ports['cached']}/healthz"
        ) as cached_proc,
    ):
        pool = await asyncpg.create_pool(as_url(url), min_size=2, max_size=5)
        async with (
            Client(f"http://127.0.0.1:{ports['bare']}/mcp") as bare,
            keyed_client(f"http://127.0.0.1:{ports['ours']}/mcp", args.key) as ours,
            keyed_client(f"http://127.0.0.1:{ports['cached']}/mcp", args.key) as cached,
        ):
            for title, (sql, calls) in QUERIES.items():
                targets = {
                    "direct asyncpg": partial(pool.fetch, sql),
                    "bare MCPServer (HTTP)": partial(bare.call_tool, "run_query", {"sql": sql}),
                    "telcopulse uncached (HTTP)": partial(ours.call_tool, "query_database", {"query": sql}),
                    "telcopulse cached (HTTP)": partial(cached.call_tool, "query_database", {"query": sql}),
                }
                _report(title, await _latencies(targets, calls), calls)
        await pool.close()
        if args.clients:
            rss_before = _rss_mib(cached_proc.pid)
            load = await _load(
                f"http://127.0.0.1:{ports['cached']}/mcp", args.clients, args.duration, MART_CALL, args.key
            )
            rss_after = _rss_mib(cached_proc.pid)
            bare_load = await _load(
                f"http://127.0.0.1:{ports['bare']}/mcp", args.clients, args.duration, BARE_CALL
            )
            print(f"\nload: {args.clients} concurrent clients x {args.duration:.0f}s")
            for name, result in (
                ("telcopulse query_mart (cache on)", load),
                ("bare MCPServer run_query", bare_load),
            ):
                print(
                    f"{name:34} {result['calls']:.0f} calls, {result['throughput']:.1f} calls/s, "
                    f"p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, p99 {result['p99']:.1f} ms, "
                    f"errors {result['errors']:.0f}"
                )
            print(f"telcopulse server RSS {rss_before:.0f} -> {rss_after:.0f} MiB")


TRACING = {  # name: OTEL_* variables (the exporter endpoint is added per run)
    "tracing off": {},
    "tracing 1 %": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"},
    "tracing 10 %": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "tracing 100 %": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}
TRACED_QUERY = QUERIES["light: ARPU by month for one account type (mart, 13 rows)"][0]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, in clock ticks)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metrics_cost_us(calls: int = 200_000) -> float:
    """Microseconds to record one tool call's metrics (counter and histogram), timed directly."""
    from mcp_server.observability.metrics import ServerMetrics

    metrics = ServerMetrics("bench")
    metrics.know(["query_database"], ["QueryError"])
    start = time.perf_counter()
    for i in range(calls):
        metrics.tool_call_seen("query_database", "ok", 0.001 * (i % 50))
    return (time.perf_counter() - start) / calls * 1e6


async def _observability(args: argparse.Namespace, env: dict[str, str]) -> None:
    from tests.otlp_receiver import OtlpReceiver

    ports = {name: free_port() for name in TRACING}
    pids: dict[str, int] = {}
    serve = [str(BIN / "telcopulse"), "serve", "--transport", "http", "--port"]
    with OtlpReceiver(decode=False).running() as receiver, contextlib.ExitStack() as stack:
        for name, otel in TRACING.items():
            # The result cache off: every call runs its SQL, so every trace is whole.
            traced = {**env, **otel, "TELCOPULSE_QUERY_CACHE_TTL": "0"}
            if otel:
                traced["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
            url = f"http://127.0.0.1:{ports[name]}"
            pids[name] = stack.enter_context(
                serving([*serve, str(ports[name])], traced, f"{url}/healthz")
            ).pid
        urls = {name: f"http://127.0.0.1:{port}/mcp" for name, port in ports.items()}
        async with contextlib.AsyncExitStack() as clients:
            sessions = {
                name: await clients.enter_async_context(keyed_client(url, args.key))
                for name, url in urls.items()
            }
            calls = args.calls
            targets = {
                name: partial(session.call_tool, "query_database", {"query": TRACED_QUERY})
                for name, session in sessions.items()
            }
            samples = await _latencies(targets, calls)
        p50 = {name: _pct(s, 0.5) for name, s in samples.items()}
        p95 = {name: _pct(s, 0.95) for name, s in samples.items()}
        print(f"\nobservability: query_database sequential, {calls} calls each, interleaved (ms)")
        for name in TRACING:
            print(
                f"{name:30} p50 {p50[name]:8.2f}  p95 {p95[name]:8.2f}  "
                f"({p50[name] / p50['tracing off']:.3f}x)"
            )
        loads: dict[str, list[dict[str, float]]] = {name: [] for name in TRACING}
        cpu: dict[str, float] = dict.fromkeys(TRACING, 0.0)  # server CPU seconds under load
        if args.clients:
            for _round in range(args.rounds):
                for name in TRACING:
                    before = _cpu_seconds(pids[name])
                    loads[name].append(
                        await _load(urls[name], args.clients, args.duration, _TRACED_CALL, args.key)
                    )
                    cpu[name] += _cpu_seconds(pids[name]) - before
            print(
                f"observability: {args.clients} concurrent clients x {args.duration:.0f}s, "
                f"{args.rounds} rounds each"
            )
            base = sum(r["throughput"] for r in loads["tracing off"]) / args.rounds
            base_cpu = cpu["tracing off"] / sum(r["calls"] for r in loads["tracing off"])
            for name, rounds in loads.items():
                throughput = sum(r["throughput"] for r in rounds) / len(rounds)
                per_call = cpu[name] / sum(r["calls"] for r in rounds)
                each = " / ".join(f"{r['throughput']:.0f}" for r in rounds)
                print(
                    f"{name:15} {throughput:6.1f} calls/s (rounds "
                    f"{each}; {throughput / base:.3f}x), "
                    f"server CPU {per_call * 1000:.2f} ms/call ({per_call / base_cpu:.3f}x), "
                    f"p50 {rounds[-1]['p50']:.0f} ms, errors {sum(r['errors'] for r in rounds):.0f}"
                )
        print(f"spans received: {receiver.requests} OTLP requests, {receiver.bytes / 2**20:.1f} MiB")
    print(f"metrics: {_metrics_cost_us():.2f} us to record one tool call (counter + histogram)")


_TRACED_CALL = ("query_database", lambda i: {"query": TRACED_QUERY})


@contextmanager
def bench_warehouse(customers: int) -> Iterator[tuple[str, dict[str, str], str]]:
    """(database URL, server env, admin API key): a scratch warehouse built from the generator
    and dbt, and the environment that points `telcopulse serve` at it with limits raised."""
    with scratch_database() as url, tempfile.TemporaryDirectory() as data_dir:
        report = generate(url, customers=customers, seed=42, end_date=END, progress=False)
        dbt(url, "run")
        print(f"warehouse: {report.customers:,} customers, {report.network_events:,} events")
        key, env = server_env(url, data_dir)
        yield url, env, key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2, help="load rounds per tracing setting")
    parser.add_argument("--observability-only", action="store_true", help="only the tracing/metrics cost")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with bench_warehouse(args.customers) as (url, env, args.key):
        if not args.observability_only:
            asyncio.run(_measure(url, args, env))
        asyncio.run(_observability(args, env))


if __name__ == "__main__":
    main()
