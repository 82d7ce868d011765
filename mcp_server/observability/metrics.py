"""Prometheus metrics of one MCP server process, in the Prometheus text format (`prometheus-client`).

What an operator alerts on: calls, latency and errors per tool, cache hit ratios, pool use,
sessions, rate-limit and auth rejections, how old the data is, and how the pipeline fares (runs,
durations, failing checks, rows loaded: `pipeline_metrics`). One registry per server
object (not prometheus-client's global one), so several servers in one process (tests, the
in-memory client) never mix their counts. Each replica is its own scrape target: uvicorn runs
one process per server here, so no multiprocess mode is needed.

Every label value comes from a closed set (tool names the server registered, error names,
roles, fixed reasons and cache tiers); anything else is folded into `other` before it becomes a
label, so no value from a request (a query, a key, a session id, a user name) can ever become a
time series.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_TEXT
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from mcp_server.observability.pipeline_metrics import PipelineCollector
from mcp_server.security.identity import ROLES
from warehouse.pipeline_runs import PipelineFigures

# 1 ms to 60 s, the span of a cached read to the longest query timeout.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OTHER = "other"
AUTH_FAILURE_REASONS = ("missing_key", "invalid_key", "store_unavailable")
ANALYSIS_SOURCES = ("redis", "postgres", "computed")
QUERY_CACHE_RESULTS = ("hit", "miss")
SESSIONS_RECOUNT_S = 30.0
PIPELINE_REREAD_S = 15.0  # the pipeline tables change a few times a day; a scrape is every 15-60 s

__all__ = ["PROMETHEUS_TEXT", "ServerMetrics"]


class ServerMetrics:
    """The server's metrics; record with the `*_seen` methods, read with `render()`."""

    def __init__(self, version: str) -> None:
        # No `*_created` series: rate() does not need them and they double every counter's output.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self._tools: frozenset[str] = frozenset()
        self._outcomes: frozenset[str] = frozenset({"ok", "Error"})
        self._sessions_counted_at = float("-inf")
        self._pipeline_read_at = float("-inf")
        r = self.registry
        self.tool_calls = Counter(
            "telcopulse_tool_calls", "Tool calls by tool and outcome (ok or the error's name)",
            ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tool_duration = Histogram(
            "telcopulse_tool_duration_seconds", "Tool call duration, from the gate to the answer",
            ["tool"], buckets=DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self.query_cache = Counter(
            "telcopulse_query_cache_requests", "Query-result cache lookups by result", ["result"], registry=r
        )
        self.analysis_cache = Counter(
            "telcopulse_analysis_cache_requests",
            "analyze_data answers by where they came from (Redis, the PostgreSQL store, computed now)",
            ["source"],
            registry=r,
        )
        self.pool_connections = Gauge(
            "telcopulse_db_pool_connections", "Warehouse pool connections by state", ["state"], registry=r
        )
        self.pool_size = Gauge("telcopulse_db_pool_size", "Warehouse pool connections at most", registry=r)
        self.sessions_active = Gauge(
            "telcopulse_sessions_active", "Sessions open (not expired, not closed) in Redis", registry=r
        )
        self.rate_limited = Counter(
            "telcopulse_rate_limited", "Calls refused by the rate limit, by role", ["role"], registry=r
        )
        self.auth_failures = Counter(
            "telcopulse_auth_failures",
            "HTTP requests refused before any tool ran, by reason",
            ["reason"],
            registry=r,
        )
        self.data_age = Gauge(
            "telcopulse_data_version_age_seconds", "Seconds since the last successful mart build", registry=r
        )
        self.pipeline = PipelineCollector()
        r.register(self.pipeline)
        Gauge("telcopulse_build_info", "The server's version", ["version"], registry=r).labels(version).set(1)
        # Every known series exists from the start at 0, so rate() and absent() work on a fresh replica.
        for result in QUERY_CACHE_RESULTS:
            self.query_cache.labels(result)
        for source in ANALYSIS_SOURCES:
            self.analysis_cache.labels(source)
        for role in ROLES:
            self.rate_limited.labels(role)
        for reason in AUTH_FAILURE_REASONS:
            self.auth_failures.labels(reason)

    def know(self, tools: Iterable[str], outcomes: Iterable[str]) -> None:
        """The closed sets tool and outcome labels come from (the registered tools, the error names)."""
        self._tools = frozenset(tools)
        self._outcomes = frozenset({"ok", "Error", *outcomes})

    def tool_call_seen(self, tool: str, outcome: str, seconds: float) -> None:
        tool = tool if tool in self._tools else OTHER
        outcome = outcome if outcome in self._outcomes else "Error"
        self.tool_calls.labels(tool, outcome).inc()
        self.tool_duration.labels(tool).observe(seconds)

    def query_cache_seen(self, hit: bool) -> None:
        self.query_cache.labels("hit" if hit else "miss").inc()

    def analysis_answer_seen(self, source: str) -> None:
        self.analysis_cache.labels(source if source in ANALYSIS_SOURCES else OTHER).inc()

    def rate_limited_seen(self, role: str) -> None:
        self.rate_limited.labels(role if role in ROLES else OTHER).inc()

    def auth_failure_seen(self, reason: str) -> None:
        self.auth_failures.labels(reason if reason in AUTH_FAILURE_REASONS else OTHER).inc()

    def pool_seen(self, pool: Any) -> None:
        """asyncpg's own counts: size now, idle now, and the configured maximum."""
        size, idle = pool.get_size(), pool.get_idle_size()
        self.pool_connections.labels("in_use").set(size - idle)
        self.pool_connections.labels("idle").set(idle)
        self.pool_size.set(pool.get_max_size())

    def data_age_seen(self, seconds: float | None) -> None:
        self.data_age.set(seconds if seconds is not None else float("nan"))

    def sessions_due(self) -> bool:
        """Whether the sessions gauge should be counted again (a Redis SCAN: at most every 30 s)."""
        return time.monotonic() - self._sessions_counted_at >= SESSIONS_RECOUNT_S

    def sessions_seen(self, count: int) -> None:
        self.sessions_active.set(count)
        self._sessions_counted_at = time.monotonic()

    def pipeline_due(self) -> bool:
        """Whether the pipeline figures should be read again (four queries: at most every 15 s)."""
        return time.monotonic() - self._pipeline_read_at >= PIPELINE_REREAD_S

    def pipeline_seen(self, figures: PipelineFigures) -> None:
        self.pipeline.figures = figures
        self._pipeline_read_at = time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)
