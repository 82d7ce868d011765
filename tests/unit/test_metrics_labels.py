"""Metric labels come from closed sets: whatever a caller sends, no input becomes a time series."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from mcp_server.errors import error_names
from mcp_server.observability.metrics import ServerMetrics

TOOLS = ["list_marts", "query_database"]


def _label_values(metrics: ServerMetrics) -> set[tuple[str, str]]:
    return {
        (key, value)
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
        for key, value in sample.labels.items()
        if key != "le"
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=40), st.text(max_size=20)), max_size=30))
def test_fuzzed_names_fold_into_bounded_labels(events):
    metrics = ServerMetrics("9.9.9")
    metrics.know(TOOLS, error_names())
    for tool, outcome, other in events:
        metrics.tool_call_seen(tool, outcome, 0.01)
        metrics.rate_limited_seen(other)
        metrics.auth_failure_seen(other)
        metrics.analysis_answer_seen(other)
    allowed_tools = {*TOOLS, "other"}
    for key, value in _label_values(metrics):
        if key == "tool":
            assert value in allowed_tools
        elif key == "outcome":
            assert value in error_names() | {"ok", "Error"}
        elif key == "role":
            assert value in {"admin", "analyst", "viewer", "other"}
        elif key == "reason":
            assert value in {"missing_key", "invalid_key", "store_unavailable", "other"}
        elif key == "source":
            assert value in {"redis", "postgres", "computed", "other"}
    # Series: at most tools x outcomes call counters, however many distinct inputs were sent.
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    assert len(families["telcopulse_tool_calls"].samples) <= len(allowed_tools) * (len(error_names()) + 2)


def test_a_fresh_server_exports_every_known_series_at_zero():
    metrics = ServerMetrics("1.2.3")
    text = metrics.render().decode()
    for line in (
        'telcopulse_query_cache_requests_total{result="hit"} 0.0',
        'telcopulse_analysis_cache_requests_total{source="computed"} 0.0',
        'telcopulse_rate_limited_total{role="viewer"} 0.0',
        'telcopulse_auth_failures_total{reason="invalid_key"} 0.0',
        'telcopulse_build_info{version="1.2.3"} 1.0',
    ):
        assert line in text
    assert "_created" not in text


def test_known_calls_are_counted_under_their_own_names():
    metrics = ServerMetrics("1")
    metrics.know(TOOLS, error_names())
    metrics.tool_call_seen("query_database", "QueryError", 0.002)
    metrics.tool_call_seen("query_database", "ok", 0.3)
    text = metrics.render().decode()
    assert 'telcopulse_tool_calls_total{outcome="QueryError",tool="query_database"} 1.0' in text
    assert 'telcopulse_tool_duration_seconds_bucket{le="0.0025",tool="query_database"} 1.0' in text
    assert 'telcopulse_tool_duration_seconds_count{tool="query_database"} 2.0' in text
