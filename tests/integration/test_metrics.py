"""`/metrics` and `/readyz` of a real `telcopulse serve --transport http`.

A known sequence of calls (answers, each kind of refusal, auth failures), then one scrape: every
counter and histogram count must equal what was done, per tool and outcome, and no label may
carry anything a caller sent. Readiness follows a private Redis that the test stops and starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcp_server.errors import error_names
from mcp_server.security.rbac import TOOL_POLICY
from orchestration.definitions import build_definitions
from tests.integration.mcp_helpers import keyed_client, make_keys, server_env, serving_http
from tests.private_services import PrivateRedis
from warehouse.raw_schema import RAW_TABLE_NAMES

pytestmark = pytest.mark.integration

UNKNOWN_SESSION = "0" * 32


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name -> {sorted labels: value}."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _value(samples: dict[str, Any], name: str, **labels: str) -> float:
    return samples[name].get(tuple(sorted(labels.items())), 0.0)


async def _calls(url: str, keys: dict[str, str]) -> None:
    async with keyed_client(url, keys["ana"], read_timeout_seconds=120) as ana:
        for _ in range(3):
            assert not (await ana.call_tool("list_marts", {})).is_error
        for _ in range(2):
            assert (await ana.call_tool("query_database", {"query": "SELEC 1"})).is_error
        for _ in range(2):  # the second is answered from the query cache
            assert not (await ana.call_tool("query_database", {"query": "SELECT 42 AS n"})).is_error
        assert not (
            await ana.call_tool("analyze_data", {"data_source": "warehouse", "analysis_type": "arpu"})
        ).is_error
        assert not (await ana.call_tool("session_create", {"data_source": "warehouse"})).is_error
        # An unknown tool: its name must not become a label.
        assert (await ana.call_tool("drop_everything_now", {})).is_error
    async with keyed_client(url, keys["vic"]) as vic:  # a viewer: 3 calls a minute
        assert (await vic.call_tool("query_database", {"query": "SELECT 1"})).is_error  # Forbidden
        for _ in range(4):  # 3 NotFound, then RateLimited
            result = await vic.call_tool("session_read", {"session_id": UNKNOWN_SESSION, "key": "x"})
            assert result.is_error


@pytest.mark.asyncio(loop_scope="session")
async def test_scraped_counters_equal_the_calls_made_and_labels_stay_bounded(pipeline, redis_url, tmp_path):
    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"ops": "admin", "ana": "analyst", "vic": "viewer"})
    env = server_env(
        pipeline.database_url,
        redis_url,
        tmp_path,
        TELCOPULSE_API_KEYS_FILE=str(keys_file),
        TELCOPULSE_RATE_LIMITS='{"admin": 600, "analyst": 120, "viewer": 3}',
    )
    with serving_http(env) as base:
        await _calls(f"{base}/mcp", keys)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            assert (await http.post("/mcp", json={})).status_code == 401  # missing key
            assert (await http.post("/mcp", json={}, headers={"X-API-Key": "tp_nope"})).status_code == 401
            assert (await http.get("/metrics")).status_code == 401  # missing key: no metrics either
            refused = await http.get("/metrics", headers={"Authorization": f"Bearer {keys['ana']}"})
            assert refused.status_code == 403 and refused.json()["error"] == "Forbidden"
            scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {keys['ops']}"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)

    calls = {
        ("list_marts", "ok"): 3,
        ("query_database", "QueryError"): 2,
        ("query_database", "ok"): 2,
        ("query_database", "Forbidden"): 1,
        ("analyze_data", "ok"): 1,
        ("session_create", "ok"): 1,
        ("session_read", "NotFound"): 3,
        ("session_read", "RateLimited"): 1,
        ("other", "NotFound"): 1,
    }
    counted = {
        (dict(labels)["tool"], dict(labels)["outcome"]): value
        for labels, value in samples["telcopulse_tool_calls_total"].items()
    }
    assert counted == calls
    per_tool: dict[str, int] = defaultdict(int)
    for (tool, _outcome), n in calls.items():
        per_tool[tool] += n
    for tool, n in per_tool.items():
        assert _value(samples, "telcopulse_tool_duration_seconds_count", tool=tool) == n
        assert _value(samples, "telcopulse_tool_duration_seconds_bucket", tool=tool, le="+Inf") == n
    assert _value(samples, "telcopulse_query_cache_requests_total", result="hit") == 1
    assert _value(samples, "telcopulse_query_cache_requests_total", result="miss") == 1
    sources = samples["telcopulse_analysis_cache_requests_total"]
    assert sum(sources.values()) == 1  # precomputed by the pipeline: from Redis or PostgreSQL
    assert _value(samples, "telcopulse_rate_limited_total", role="viewer") == 1
    assert _value(samples, "telcopulse_auth_failures_total", reason="missing_key") == 2
    assert _value(samples, "telcopulse_auth_failures_total", reason="invalid_key") == 1
    in_use = _value(samples, "telcopulse_db_pool_connections", state="in_use")
    idle = _value(samples, "telcopulse_db_pool_connections", state="idle")
    assert in_use >= 0 and idle >= 0 and 0 < in_use + idle <= _value(samples, "telcopulse_db_pool_size")
    assert _value(samples, "telcopulse_sessions_active") >= 1
    assert 0 <= _value(samples, "telcopulse_data_version_age_seconds") < 24 * 3600
    assert _value(samples, "telcopulse_build_info", version="0.1.0") == 1
    # The fixture's own `refresh_all` run, recorded in ops.pipeline_runs and read back at scrape time.
    assert _value(samples, "telcopulse_pipeline_runs_total", dagster_job="__ASSET_JOB", status="success") >= 1
    assert _value(samples, "telcopulse_pipeline_run_duration_seconds", dagster_job="__ASSET_JOB") > 0
    # Bounded labels: tools the server has, error names, roles, fixed reasons and tiers.
    allowed = (
        set(TOOL_POLICY) | error_names() | {"ok", "other", "hit", "miss", "redis", "postgres", "computed"}
    )
    allowed |= {"admin", "analyst", "viewer", "missing_key", "invalid_key", "store_unavailable"}
    allowed |= {"in_use", "idle", "0.1.0"}
    # The pipeline's series (read from ops.*): Dagster job names of this code location, run
    # statuses, check severities, raw tables.
    allowed |= {job.name for job in build_definitions().get_repository_def().get_all_jobs()}
    allowed |= {"success", "failure", "error", "warn", *RAW_TABLE_NAMES}
    for name, series in samples.items():
        for labels in series:
            for key, value in labels:
                if key != "le":
                    assert value in allowed, (name, key, value)
    assert (
        "SELEC" not in scraped.text
        and keys["ana"] not in scraped.text
        and UNKNOWN_SESSION not in scraped.text
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_readyz_names_redis_while_it_is_down_and_metrics_can_be_public(pipeline, tmp_path):
    redis = PrivateRedis(appendonly=False)
    redis.start()
    try:
        keys_file = tmp_path / "api_keys.jsonl"
        make_keys(keys_file, {"ops": "admin"})
        env = server_env(
            pipeline.database_url,
            redis.url(),
            tmp_path,
            TELCOPULSE_API_KEYS_FILE=str(keys_file),
            TELCOPULSE_METRICS_PUBLIC="true",
        )
        with serving_http(env) as base:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                ready = await http.get("/readyz")  # no key needed
                assert ready.status_code == 200, ready.text
                assert ready.json() == {
                    "status": "ready",
                    "failing": [],
                    "checks": {"postgres": "ok", "migrations": "ok", "redis": "ok", "dbt_manifest": "ok"},
                }
                assert (await http.get("/metrics")).status_code == 200  # public: no key
                redis.stop()
                down = await http.get("/readyz")
                assert down.status_code == 503 and down.json()["failing"] == ["redis"]
                assert down.json()["checks"]["redis"] == "cannot be reached"
                assert "127.0.0.1" not in down.text and "Error" not in down.text
                assert (await http.get("/healthz")).status_code == 200  # alive, just not ready
                redis.start()
                for _ in range(50):
                    back = await http.get("/readyz")
                    if back.status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                assert back.status_code == 200, back.text
    finally:
        redis.cleanup()


def test_the_readmes_monitoring_commands_run(mcp_http):
    """The `## Monitoring` commands, pasted as a reader would, against a running server."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Monitoring", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"^```bash\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    base = mcp_http.url.removesuffix("/mcp")
    outputs = []
    for command in [line for line in block.splitlines() if line.strip()]:
        done = subprocess.run(
            ["bash", "-c", command.replace("http://127.0.0.1:8000", base)],
            env={**os.environ, "KEY": mcp_http.keys["ada"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert json.loads(outputs[0])["status"] == "ready"
    assert "telcopulse_build_info" in outputs[1] and "telcopulse_db_pool_size" in outputs[1]
