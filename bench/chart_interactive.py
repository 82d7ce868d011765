"""What the interactive chart (the MCP App's Plotly figure) adds to `create_visualization`, side by side.

For each chart and size, `render_chart` as every host gets it (the PNG) and as a host with MCP
Apps gets it (the PNG plus the figure from the same prepared series), in one process, best of
N runs each; with the figure's JSON size. Plus the one-off cost of the view document (plotly.js
inlined), built once per server process.

    .venv/bin/python -m bench.chart_interactive
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from analyses.charts import render_chart
from bench.common import machine
from mcp_server.resources.chart_view import chart_view_html


def _best(runs: int, call) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _cases(rng: np.random.Generator) -> list[tuple[str, str, list[dict], dict]]:
    months = [f"2026-{m:02d}-01" for m in range(1, 13)]
    bars = [{"month": m, "segment": s, "arpu": float(rng.normal(30, 5))} for m in months for s in "abcd"]
    cases = [
        (
            "bar, 12 months x 4 segments",
            "bar",
            bars,
            {"x_axis": "month", "y_axis": "arpu", "value": "segment"},
        )
    ]
    for n in (1_000, 10_000, 100_000):
        points = [
            {"x": float(x), "y": float(y), "g": f"s{int(g)}"}
            for x, y, g in zip(rng.normal(size=n), rng.normal(size=n), rng.integers(0, 5, n), strict=True)
        ]
        cases.append(
            (f"scatter, {n:,} points", "scatter", points, {"x_axis": "x", "y_axis": "y", "value": "g"})
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    rng = np.random.default_rng(7)
    print(f"{'chart':32} {'png only':>10} {'png + figure':>13} {'added':>8} {'figure JSON':>12}")
    for label, kind, rows, ask in _cases(rng):
        static = _best(args.runs, lambda: render_chart(rows, kind, title="t", **ask))  # noqa: B023
        both = _best(args.runs, lambda: render_chart(rows, kind, title="t", interactive=True, **ask))  # noqa: B023
        figure = render_chart(rows, kind, title="t", interactive=True, **ask).figure
        size = len(json.dumps(figure))
        print(
            f"{label:32} {static * 1000:8.1f} ms {both * 1000:11.1f} ms {(both - static) * 1000:6.1f} ms "
            f"{size / 1024:9.0f} KiB"
        )
    start = time.perf_counter()
    view = chart_view_html()
    took = (time.perf_counter() - start) * 1000
    print(f"view document: {len(view) / 2**20:.2f} MiB, built once per process in {took:.0f} ms")


if __name__ == "__main__":
    main()
