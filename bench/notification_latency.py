"""Live marts: how long from a recorded build to `notifications/resources/updated` at the client.

A small warehouse (generate + dbt run), two `telcopulse serve --transport http` replicas, and on
them two subscribers to `mart://fct_customer_churn_monthly`: one with `resources/subscribe`
(protocol 2025-11-25, over the standalone SSE stream) on the first replica, one with a
`subscriptions/listen` stream (2026-07-28) on the second. Each round records a build with the
recorder the Dagster dbt asset uses (`record_build`: the row and its NOTIFY in one transaction)
and times, from its commit, the arrival of the update at each client. p50 / p95 over the rounds.

    .venv/bin/python -m bench.notification_latency --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from typing import Any

import anyio
from mcp_types import ResourceUpdatedNotification

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
from orchestration.defs.dbt.assets import record_build
from warehouse.build_events import BuildSummary
from warehouse.generator import generate

URI = "mart://fct_customer_churn_monthly"
END = dt.date(2026, 10, 31)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _measure(db: str, urls: list[str], key: str, rounds: int) -> dict[str, list[float]]:
    legacy_seen: asyncio.Queue[float] = asyncio.Queue()
    listen_seen: asyncio.Queue[float] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification) and str(message.params.uri) == URI:
            legacy_seen.put_nowait(time.perf_counter())

    legacy_client = keyed_client(urls[0], key, mode="legacy", message_handler=on_message)
    async with legacy_client as legacy, keyed_client(urls[1], key) as modern:
        await legacy.subscribe_resource(URI)
        async with modern.listen(resource_subscriptions=[URI]) as stream:

            async def read() -> None:
                async for _event in stream:
                    listen_seen.put_nowait(time.perf_counter())

            latencies: dict[str, list[float]] = {"resources/subscribe": [], "subscriptions/listen": []}
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read)
                await asyncio.sleep(6)  # both replicas' build listeners are up (they start with the server)
                summary = BuildSummary(marts=("fct_customer_churn_monthly",))
                for _ in range(rounds):
                    await asyncio.to_thread(
                        record_build, db, f"bench-{uuid.uuid4().hex[:8]}", 1, "bench", summary=summary
                    )
                    committed = time.perf_counter()
                    for name, queue in (
                        ("resources/subscribe", legacy_seen),
                        ("subscriptions/listen", listen_seen),
                    ):
                        arrived = await asyncio.wait_for(queue.get(), timeout=10)
                        latencies[name].append(arrived - committed)
                    await asyncio.sleep(0.2)
                tasks.cancel_scope.cancel()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--customers", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with scratch_database() as db, tempfile.TemporaryDirectory() as data_dir:
        generate(db, customers=args.customers, seed=42, end_date=END, progress=False)
        dbt(db, "run")
        record_build(db, "bench-initial", 1, "bench")
        key, env = server_env(db, data_dir)
        serve = [str(VENV_BIN / "telcopulse"), "serve", "--transport", "http"]
        ports = [free_port(), free_port()]
        with (
            serving([*serve, "--port", str(ports[0])], env, f"http://127.0.0.1:{ports[0]}/healthz"),
            serving([*serve, "--port", str(ports[1])], env, f"http://127.0.0.1:{ports[1]}/healthz"),
        ):
            urls = [f"http://127.0.0.1:{port}/mcp" for port in ports]
            latencies = asyncio.run(_measure(db, urls, key, args.rounds))
    print(
        f"\nbuild recorded -> notifications/resources/updated at the client, {args.rounds} builds, 2 replicas"
    )
    print(f"{'subscription':22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in latencies.items():
        p50, p95 = statistics.median(values), _percentile(values, 0.95)
        print(f"{name:22} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {max(values) * 1000:8.1f}")


if __name__ == "__main__":
    main()
