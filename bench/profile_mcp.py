"""Where a tool call's time goes in `telcopulse serve --transport http`: py-spy on a driven server.

A dedicated driver (no other target competes for the two cores): one server, result cache
off, then py-spy samples it (busy samples only, idle time excluded) while
  - `sequential`: one MCP client sends the light `query_database` call back to back, and
  - `load`: C clients do the same concurrently (the saturated case the throughput target is about).
`--call mart` profiles the load test of bench.mcp_latency instead (query_mart, cache on).
The report gives, per phase, the server CPU per call and the share of busy samples per layer:
inclusive (the layer's frame is anywhere on the stack) and self (the sample's innermost
frame is in that package). Shares are of busy samples, so they are costs, not waits.

    .venv/bin/python -m bench.profile_mcp --customers 2000 --calls 1500 --clients 50 --duration 15

py-spy comes with `make bench` (the `bench` extra); it needs ptrace rights (root or
CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import psutil

from bench.common import free_port, keyed_client, machine, serving
from bench.mcp_latency import BARE_CALL, BIN, MART_CALL, QUERIES, bench_warehouse

LIGHT_SQL = next(sql for title, (sql, _) in QUERIES.items() if title.startswith("light"))

# (label, pattern on "file function" of a frame). A busy sample is charged to the layer of its
# innermost frame that matches one of these (so asyncpg under the executor counts as
# asyncpg, pydantic under the SDK's argument check as that check); the rest is "other".
LAYERS: tuple[tuple[str, str], ...] = (
    ("asyncpg (driver, protocol)", r"^asyncpg/"),
    ("redis client", r"^redis/"),
    ("logging (stdlib handlers)", r"^logging/"),
    ("SQL guard (sqlglot)", r"^mcp_server/security/sql_[a-z_]+\.py|^sqlglot/"),
    ("rate limiter", r"^mcp_server/security/rate_limit\.py"),
    ("audit + tool log line", r"^mcp_server/observability/"),
    ("query service + executor", r"^mcp_server/(query|cache|dependencies|abandon)"),
    ("tools (query_database body)", r"^mcp_server/tools/|^mcp_server/context"),
    ("tool gate (RBAC, limits, audit)", r"^mcp_server/app\.py|^mcp_server/security/principal"),
    ("API-key middleware", r"^mcp_server/security/(auth\.py|api_keys/)"),
    (
        "request guard (body check, disconnect link)",
        r"^mcp_server/http_limits\.py \S*McpRequestGuard|^mcp_server/http_limits\.py _jsonrpc",
    ),
    ("HTTP connection guard", r"^mcp_server/http_limits\.py"),
    ("bench bare server tool", r"^bench/"),
    ("MCP SDK: tool call (argument validation, result)", r"^mcp/server/mcpserver/"),
    ("MCP SDK: transport, session, JSON-RPC", r"^mcp/|^mcp_types/"),
    ("pydantic (outside the SDK's tool layer)", r"^pydantic"),
    ("Starlette", r"^starlette/"),
    ("uvicorn (HTTP parsing, ASGI)", r"^uvicorn/"),
    ("anyio (task groups, cancel scopes)", r"^anyio/|^sniffio/"),
    ("asyncio event loop", r"^asyncio/|^selectors"),
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _package(path: str) -> str:
    """`mcp_server/query`, `pydantic`, `asyncio`...: the owner of a frame's file.

    py-spy names files relative to their import root (`mcp/server/runner.py`, `threading.py`).
    """
    parts = path.split("/")
    if parts[0] in ("mcp_server", "warehouse", "telcopulse", "bench") and len(parts) > 1:
        return f"{parts[0]}/{parts[1].removesuffix('.py')}"
    return parts[0].removesuffix(".py")


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    """py-spy `--format raw` (collapsed stacks): [(frame files, outermost first), count]."""
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        files = []
        for frame in frames.split(";"):
            match = _FRAME.match(frame.strip())
            files.append(f"{match['file']} {match['func']}" if match else frame)
        stacks.append((files, int(count)))
    return stacks


def shares(stacks: list[tuple[list[str], int]]) -> tuple[int, Counter[str], Counter[str]]:
    """(busy samples, samples per layer, samples per package of the innermost frame)."""
    total = 0
    layer: Counter[str] = Counter()
    own: Counter[str] = Counter()
    patterns = [(label, re.compile(pattern)) for label, pattern in LAYERS]
    for frames, count in stacks:
        total += count
        own[_package(frames[-1].split(" ")[0])] += count
        charged = "other"
        for frame in reversed(frames):
            hit = next((label for label, pattern in patterns if pattern.search(frame)), None)
            if hit is not None:
                charged = hit
                break
        layer[charged] += count
    return total, layer, own


def _py_spy() -> str:
    path = BIN / "py-spy"
    if not path.exists():
        raise SystemExit("py-spy is missing: run `make bench` once, or install the `bench` extra")
    return str(path)


Call = tuple[str, dict[str, str]]  # (tool, arguments)
CALLS: dict[str, tuple[Call, Call]] = {  # --call: (ours, bare's equivalent)
    # the light query, result cache off: every call runs SQL
    "sql": (("query_database", {"query": LIGHT_SQL}), ("run_query", {"sql": LIGHT_SQL})),
    # the load test of bench.mcp_latency: a mart query with the result cache on (hits)
    "mart": ((MART_CALL[0], MART_CALL[1](0)), (BARE_CALL[0], BARE_CALL[1](0))),
}


async def _sequential(url: str, key: str | None, call: Call, calls: int) -> int:
    async with keyed_client(url, key) as client:
        for _ in range(calls):
            result = await client.call_tool(*call)
            assert not result.is_error, result
    return calls


async def _concurrent(url: str, key: str | None, call: Call, clients: int, duration: float) -> int:
    done = 0
    stop_at = time.monotonic() + duration

    async def worker() -> None:
        nonlocal done
        async with keyed_client(url, key) as client:
            while time.monotonic() < stop_at:
                result = await client.call_tool(*call)
                done += 0 if result.is_error else 1

    await asyncio.gather(*(worker() for _ in range(clients)))
    return done


def _profiled(pid: int, out: Path, drive: Coroutine[Any, Any, int]) -> tuple[float, float, float]:
    """Run the driver under py-spy (GIL-holding samples only); (calls, wall s, server CPU s)."""
    spy = subprocess.Popen(
        [_py_spy(), "record", "--pid", str(pid), "--rate", "500", "--gil", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    server = psutil.Process(pid)
    cpu_before = sum(server.cpu_times()[:2])
    started = time.perf_counter()
    calls = asyncio.run(drive)
    wall = time.perf_counter() - started
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)
    return calls, wall, cpu


def _report(title: str, runs: dict[str, tuple[float, float, float, Path]]) -> None:
    """One table per phase: per layer, server CPU in µs per call, ours next to the bare server."""
    print(f"\n{title}")
    per_call: dict[str, dict[str, float]] = {}
    for name, (calls, wall, cpu, raw) in runs.items():
        total, layer, _own = shares(read_raw(raw))
        cpu_us = cpu * 1e6 / calls
        per_call[name] = {label: cpu_us * count / max(total, 1) for label, count in layer.items()}
        per_call[name]["= server CPU per call"] = cpu_us
        print(f"  {name}: {calls:.0f} calls in {wall:.1f} s ({calls / wall:.0f}/s), {total} GIL samples")
    names = list(runs)
    labels = [label for label, _ in LAYERS] + ["other", "= server CPU per call"]
    print(f"  {'server CPU per call, µs':52}" + "".join(f"{n:>12}" for n in names))
    for label in labels:
        values = [per_call[n].get(label, 0.0) for n in names]
        if any(v >= 1 for v in values):
            print(f"  {label:52}" + "".join(f"{v:12.0f}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=1_500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--call", choices=sorted(CALLS), default="sql", help="what the clients call")
    parser.add_argument("--keep", type=Path, help="also keep py-spy's raw stacks in this directory")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with bench_warehouse(args.customers) as (_url, env, key), tempfile.TemporaryDirectory() as scratch:
        out = args.keep or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        ports = {"telcopulse": free_port(), "bare": free_port()}
        ours_cmd = [
            str(BIN / "telcopulse"),
            "serve",
            "--transport",
            "http",
            "--port",
            str(ports["telcopulse"]),
        ]
        bare_cmd = [sys.executable, "-m", "bench.bare_mcp_server", str(ports["bare"])]
        ours_call, bare_call = CALLS[args.call]
        targets = {  # name: (url, key, call)
            "telcopulse": (f"http://127.0.0.1:{ports['telcopulse']}/mcp", key, ours_call),
            "bare": (f"http://127.0.0.1:{ports['bare']}/mcp", None, bare_call),
        }
        cache_ttl = "0" if args.call == "sql" else "300"
        with (
            serving(
                ours_cmd,
                {**env, "TELCOPULSE_QUERY_CACHE_TTL": cache_ttl},
                targets["telcopulse"][0][:-3] + "healthz",
            ) as ours,
            serving(bare_cmd, env, targets["bare"][0]) as bare,
        ):
            pids = {"telcopulse": ours.pid, "bare": bare.pid}  # console scripts serve in-process
            for url, target_key, call in targets.values():
                asyncio.run(_sequential(url, target_key, call, 20))  # warm-up: plans, key cache
            runs = {}
            for name, (url, target_key, call) in targets.items():
                raw = Path(out, f"{name}-sequential.txt")
                runs[name] = (
                    *_profiled(pids[name], raw, _sequential(url, target_key, call, args.calls)),
                    raw,
                )
            _report(f"sequential, 1 client, {ours_call[0]} vs {bare_call[0]}", runs)
            if args.clients:
                runs = {}
                for name, (url, target_key, call) in targets.items():
                    raw = Path(out, f"{name}-load.txt")
                    drive = _concurrent(url, target_key, call, args.clients, args.duration)
                    runs[name] = (*_profiled(pids[name], raw, drive), raw)
                _report(f"load, {args.clients} clients x {args.duration:.0f} s, {ours_call[0]}", runs)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("note: py-spy needs ptrace rights (root or CAP_SYS_PTRACE)", file=sys.stderr)
    main()
