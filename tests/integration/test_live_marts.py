"""Marts as live resources: `mart://<name>` listed and read, subscriptions over both protocol
eras, and notifications of builds that ran in other processes, on every replica.

The cross-process test has a warehouse of its own (a refresh would change the shared pipeline
warehouse's data version under other tests); the in-process ones announce a build the way the
recorder does (a row in ops.data_builds and NOTIFY) on the shared warehouse and remove it after.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import ResourceListChangedNotification, ResourceUpdatedNotification

from mcp_server.app import build_server
from orchestration.definitions import build_definitions
from orchestration.refresh import refresh_all
from orchestration.resources import RedisResource, WarehouseResource
from telcopulse.connect import INSPECTOR_PACKAGE
from tests.integration.conftest import raw_run_config
from tests.integration.mcp_helpers import (
    free_port,
    keyed_client,
    make_keys,
    mcp_settings,
    running_server,
    server_env,
    structured,
)
from tests.node22 import node22_bin_dir
from tests.otlp_receiver import OtlpReceiver
from warehouse.build_events import ANNOUNCE_SQL, BUILD_CHANNEL
from warehouse.db import connect, temporary_database
from warehouse.migrate import migrate

pytestmark = [
    pytest.mark.integration,
    # resources/subscribe is how 2025-11-25 clients (most hosts today) subscribe; it is tested on purpose.
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
TELCOPULSE = str(ROOT / ".venv" / "bin" / "telcopulse")
CHURN = "mart://fct_customer_churn_monthly"


def _updates(into: list[str]) -> Any:
    async def handler(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            into.append(str(message.params.uri))

    return handler


@contextmanager
def _announced_build(database_url: str, details: dict[str, Any]) -> Iterator[str]:
    """A build as the recorder writes and announces it; removed afterwards (the shared warehouse
    keeps the one build the pipeline fixture made)."""
    build_id = f"test-{uuid.uuid4().hex[:8]}"
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ops.data_builds (build_id, source, details) VALUES (%s, 'test', %s)",
            (build_id, json.dumps(details)),
        )
        conn.execute(ANNOUNCE_SQL, (BUILD_CHANNEL, build_id))
    try:
        yield build_id
    finally:
        with connect(database_url) as conn:
            conn.execute("DELETE FROM ops.data_builds WHERE build_id = %s", (build_id,))


async def _eventually(check: Any, timeout: float = 5.0, message: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s" + (f": {message()}" if message else "")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    return build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("live")))


@pytest.mark.asyncio(loop_scope="session")
async def test_every_mart_is_a_listed_readable_resource(server, pipeline):
    async with Client(server) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        body = json.loads((await client.read_resource(CHURN)).contents[0].text)
        with pytest.raises(MCPError, match="NotFound: no mart 'fct_nothing'; marts are: customer_features"):
            await client.read_resource("mart://fct_nothing")
    marts = {uri for uri in listed if uri.startswith("mart://")}
    assert CHURN in marts and "mart://dim_customers" in marts and len(marts) == 7
    assert listed[CHURN].mime_type == "application/json"
    with connect(pipeline.database_url) as conn:
        rows = conn.execute("SELECT count(*) FROM marts.fct_customer_churn_monthly").fetchone()[0]
        version = conn.execute("SELECT build_id FROM ops.data_builds").fetchone()[0]
    assert body["row_count"] == rows and len(body["sample"]) == 10
    assert body["grain"] and body["unique_key"] == ["month", "account_type", "location"]
    churned = next(c for c in body["columns"] if c["name"] == "customers_churned")
    assert churned["description"] and churned["tests"]
    freshness = body["freshness"]
    assert freshness["data_version"] == version and freshness["checks"] == {
        "fct_customer_churn_monthly": "passed"
    }
    assert freshness["stale"] is False and freshness["warning"] is None and freshness["age_seconds"] >= 0


@pytest.mark.asyncio(loop_scope="session")
async def test_a_viewer_reads_the_description_but_no_rows(pipeline, redis_url, tmp_path):
    viewer = build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path), local_role="viewer")
    async with Client(viewer) as client:
        body = json.loads((await client.read_resource(CHURN)).contents[0].text)
    assert body["sample"] is None and "row_count" not in body and "may not read mart rows" in body["note"]
    assert body["columns"]


@pytest.mark.asyncio(loop_scope="session")
async def test_subscribers_hear_of_a_build_once_and_unsubscribed_clients_not_at_all(server, pipeline):
    legacy: list[str] = []
    left: list[str] = []
    async with (
        Client(server, mode="legacy", message_handler=_updates(legacy)) as subscribed,
        Client(server, mode="legacy", message_handler=_updates(left)) as unsubscribed,
        Client(server) as modern,
    ):
        # Any URI is accepted (the conformance suite's rule); what no build changes never notifies.
        await subscribed.subscribe_resource("mart://fct_nothing")
        await subscribed.subscribe_resource(CHURN)
        await unsubscribed.subscribe_resource(CHURN)
        await unsubscribed.unsubscribe_resource(CHURN)
        async with modern.listen(resource_subscriptions=[CHURN, "mart://dim_customers"]) as stream:
            heard: list[str] = []

            async def read_stream() -> None:
                async for event in stream:
                    heard.append(event.uri)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read_stream)
                marts = ["fct_customer_churn_monthly", "fct_arpu_monthly"]
                with _announced_build(pipeline.database_url, {"marts": marts}):
                    await _eventually(
                        lambda: bool(legacy and heard), message=lambda: f"legacy={legacy} heard={heard}"
                    )
                    await asyncio.sleep(0.5)  # room for a duplicate to show up
                tasks.cancel_scope.cancel()
    assert legacy == [CHURN] and heard == [CHURN] and left == []


@pytest.mark.asyncio(loop_scope="session")
async def test_clients_hear_when_a_build_adds_or_drops_a_mart(server, pipeline):
    legacy: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceListChangedNotification):
            legacy.append(message.method)

    probe = "zz_list_change_probe"
    async with (
        Client(server, mode="legacy", message_handler=on_message) as listing,
        Client(server, mode="legacy") as silent,
        Client(server) as modern,
    ):
        await listing.list_resources()  # a 2025-11-25 client that read the list hears of changes
        async with modern.listen(resources_list_changed=True) as stream:
            heard: list[str] = []

            async def read_stream() -> None:
                async for event in stream:
                    heard.append(type(event).__name__)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read_stream)
                assert await server.live.listening(30)
                with connect(pipeline.database_url) as conn:
                    conn.execute(f"CREATE TABLE marts.{probe} (n integer)")
                try:
                    with _announced_build(pipeline.database_url, {"marts": [probe]}):
                        await _eventually(
                            lambda: bool(legacy and heard), message=lambda: f"{legacy=} {heard=}"
                        )
                        listed = {str(r.uri) for r in (await silent.list_resources()).resources}
                        assert f"mart://{probe}" in listed
                finally:
                    with connect(pipeline.database_url) as conn:
                        conn.execute(f"DROP TABLE marts.{probe}")
                with _announced_build(pipeline.database_url, {"marts": []}):
                    await _eventually(lambda: len(legacy) == 2 and len(heard) == 2)
                    await asyncio.sleep(0.5)  # room for a duplicate to show up
                tasks.cancel_scope.cancel()
    assert legacy == ["notifications/resources/list_changed"] * 2
    assert heard == ["ResourcesListChanged"] * 2


@pytest.mark.asyncio(loop_scope="session")
async def test_freshness_turns_stale_on_a_failed_check_and_with_age(server, pipeline, redis_url, tmp_path):
    failed = {
        "marts": ["fct_customer_churn_monthly"],
        "checks": {"fct_customer_churn_monthly": {"failed": 1}},
    }
    async with Client(server) as client:
        with _announced_build(pipeline.database_url, failed) as build_id:
            deadline = time.monotonic() + 5
            while True:  # the announcement (or the version's 2 s cache expiring) brings it in
                stale = json.loads((await client.read_resource(CHURN)).contents[0].text)["freshness"]
                if stale["data_version"] == build_id or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
    assert stale["stale"] is True and stale["checks"] == {"fct_customer_churn_monthly": "failed"}
    assert "data tests failed on fct_customer_churn_monthly" in stale["warning"]
    old = build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path, stale_after=0.001))
    async with Client(old) as client:
        aged = json.loads((await client.read_resource(CHURN)).contents[0].text)["freshness"]
    assert aged["stale"] is True and "the marts were last built" in aged["warning"]
    assert aged["checks"] == {"fct_customer_churn_monthly": "passed"}


@pytest.fixture(scope="module")
def own_warehouse(base_database_url: str, redis_url: str) -> Iterator[str]:
    with temporary_database(base_database_url, "telcopulse_test") as url:
        migrate(url)
        defs = build_definitions(WarehouseResource(database_url=url), RedisResource(redis_url=redis_url))
        report = refresh_all(defs, run_config=raw_run_config(customers=120, seed=3, end_date="2026-10-31"))
        assert report.ok, report.failed_steps
        yield url


def _listeners(database_url: str) -> int:
    with connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'telcopulse-mcp-builds' AND query NOT LIKE 'LISTEN%'"
        ).fetchone()[0]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_refresh_in_a_third_process_reaches_subscribers_on_both_replicas(
    own_warehouse, redis_url, tmp_path
):
    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"alice": "analyst"})
    env = server_env(own_warehouse, redis_url, tmp_path, TELCOPULSE_API_KEYS_FILE=str(keys_file))
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}/mcp" for port in ports]
    first, second, quiet = [], [], []
    before = _newest_build(own_warehouse)
    with (
        OtlpReceiver().running() as receiver,
        running_server(
            [TELCOPULSE, "serve", "--transport", "http", "--port", str(ports[0])],
            env,
            urls[0][:-3] + "healthz",
        ),
        running_server(
            [TELCOPULSE, "serve", "--transport", "http", "--port", str(ports[1])],
            env,
            urls[1][:-3] + "healthz",
        ),
    ):
        async with (
            keyed_client(urls[0], keys["alice"], mode="legacy", message_handler=_updates(first)) as one,
            keyed_client(urls[0], keys["alice"], mode="legacy", message_handler=_updates(quiet)) as other,
            keyed_client(urls[1], keys["alice"]) as two,
        ):
            with anyio.fail_after(30):
                await one.subscribe_resource(CHURN)
                await other.subscribe_resource(CHURN)
                await other.unsubscribe_resource(CHURN)
            async with two.listen(resource_subscriptions=[CHURN]) as stream:

                async def read_stream() -> None:
                    async for event in stream:
                        second.append(event.uri)

                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(read_stream)
                    await _eventually(lambda: _listeners(own_warehouse) >= 2, timeout=30)
                    refresh = await asyncio.to_thread(
                        subprocess.run,
                        [TELCOPULSE, "refresh"],
                        # The refresh is traced too: one `refresh` span over the Dagster run.
                        env={
                            **env,
                            "TELCOPULSE_DAGSTER_HOME_DIR": str(tmp_path / "dagster"),
                            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                        },
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    assert refresh.returncode == 0, refresh.stdout[-2000:] + refresh.stderr[-2000:]
                    # The build is announced at commit, before the refresh's analyses finish.
                    await _eventually(
                        lambda: bool(first and second), timeout=5, message=lambda: f"{first=} {second=}"
                    )
                    await asyncio.sleep(1.0)  # room for a duplicate to show up
                    tasks.cancel_scope.cancel()
        # The MCP Inspector (its CLI: one call per run, so no subscription of its own) lists the
        # marts, reads the refreshed one as of the new build, and finds the chart tool's MCP App.
        listed = _inspector(urls[0], keys["alice"], "--method", "resources/list")
        assert CHURN in {resource["uri"] for resource in listed["resources"]}
        read = _inspector(urls[1], keys["alice"], "--method", "resources/read", "--uri", CHURN)
        freshness = json.loads(read["contents"][0]["text"])["freshness"]
        assert freshness["data_version"] == _newest_build(own_warehouse) != before
        app = _inspector(
            urls[0],
            keys["alice"],
            *(
                "--method",
                "tools/call",
                "--tool-name",
                "create_visualization",
                "--app-info",
                "--advertise-apps",
            ),
        )
        assert app["hasApp"] is True and app["resourceMimeType"] == "text/html;profile=mcp-app"
        _assert_refresh_traced(receiver, refresh.stdout)
    assert first == [CHURN] and second == [CHURN] and quiet == []


def _assert_refresh_traced(receiver: OtlpReceiver, output: str) -> None:
    """The refresh arrived as one trace (it flushes before exiting): the `refresh` span of the
    run it printed, with the warehouse statements its assets ran (psycopg) inside it."""
    run_id = output.split("refresh run ", 1)[1].split(":", 1)[0]
    refresh = next(s for s in receiver.spans if s.name == "refresh")
    assert refresh.service == "telcopulse-pipeline"
    assert refresh.parent_span_id == ""
    assert refresh.attributes["dagster.run_id"] == run_id
    assert refresh.attributes["telcopulse.outcome"] == "ok"
    inside = [s for s in receiver.trace(refresh.trace_id) if s is not refresh]
    statements = [s for s in inside if s.attributes.get("db.system") == "postgresql"]
    assert len(statements) > 10, sorted({s.name for s in inside})
    # psycopg statements are shown by their first keyword only, never their text.
    assert all(" " not in s.attributes.get("db.statement", "") for s in statements)


def _newest_build(database_url: str) -> str:
    with connect(database_url) as conn:
        newest = "SELECT build_id FROM ops.data_builds ORDER BY finished_at DESC LIMIT 1"
        return conn.execute(newest).fetchone()[0]


def _inspector(url: str, key: str, *args: str) -> dict[str, Any]:
    """The pinned MCP Inspector CLI against `url` with Node 22; its JSON answer."""
    done = subprocess.run(
        [
            "npx",
            "-y",
            INSPECTOR_PACKAGE,
            "--cli",
            url,
            "--transport",
            "http",
            "--header",
            f"X-API-Key: {key}",
            *args,
        ],
        env={**os.environ, "PATH": f"{node22_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (
        f"{args}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )
    return json.loads(done.stdout)


@pytest.mark.asyncio(loop_scope="session")
async def test_every_warehouse_answer_carries_the_freshness_of_what_it_read(server, pipeline):
    query = (
        "SELECT (SELECT count(*) FROM marts.fct_arpu_monthly) AS months,"
        " (SELECT count(*) FROM marts.dim_customers) AS customers"
    )
    async with Client(server, read_timeout_seconds=120) as client:
        sql = structured(await client.call_tool("query_database", {"query": query}))
        mart = structured(
            await client.call_tool("query_mart", {"mart": "fct_customer_churn_monthly", "limit": 1})
        )
        listed = structured(await client.call_tool("list_marts", {}))
        analysed = structured(
            await client.call_tool(
                "analyze_data", {"data_source": "warehouse", "analysis_type": "churn_rate"}
            )
        )
    with connect(pipeline.database_url) as conn:
        version = conn.execute("SELECT build_id FROM ops.data_builds").fetchone()[0]
    assert sql["freshness"]["checks"] == {"dim_customers": "passed", "fct_arpu_monthly": "passed"}
    assert mart["freshness"]["checks"] == {"fct_customer_churn_monthly": "passed"}
    assert set(listed["freshness"]["checks"]) == {m["name"] for m in listed["marts"]}
    assert analysed["freshness"]["checks"] == {
        "dim_customers": "passed",
        "fct_customer_churn_monthly": "passed",
    }
    for answer in (sql, mart, listed, analysed):
        freshness = answer["freshness"]
        assert freshness["data_version"] == version and freshness["stale"] is False
        assert freshness["built_at"] and freshness["last_load_at"] and freshness["age_seconds"] >= 0


@pytest.mark.asyncio(loop_scope="session")
async def test_analyze_data_reports_honest_progress_in_order(server):
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append((progress, total, message))

    arguments = {"data_source": "warehouse", "analysis_type": "arpu", "parameters": {"alpha": 0.02}}
    async with Client(server, read_timeout_seconds=120) as client:
        await client.call_tool("analyze_data", arguments, progress_callback=on_progress)  # computed
        computed, steps[:] = list(steps), []
        await client.call_tool("analyze_data", arguments, progress_callback=on_progress)  # stored
    values = [p for p, _, _ in computed]
    assert values == sorted(values) and len(set(values)) == len(values) and values[-1] == 4
    messages = [m for _, _, m in computed]
    assert messages[0] == "looking up the stored result" and messages[1] == "reading inputs"
    assert [m.split(" (")[0] for m in messages[2:5]] == [
        "read input monthly",
        "read input customers",
        "read input payments",
    ]
    assert messages[5].startswith("computing arpu on ") and messages[-2:] == ["storing the result", "done"]
    assert {total for _, total, _ in computed} == {4}
    assert [m for _, _, m in steps] == ["looking up the stored result", "answered from the stored result"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_client_that_sets_a_level_hears_about_its_own_calls_only(server):
    heard: list[Any] = []
    others: list[Any] = []

    async def log(into: list[Any]) -> Any:
        async def callback(params: Any) -> None:
            into.append(params)

        return callback

    async with (
        Client(server, mode="legacy", logging_callback=await log(heard)) as watching,
        Client(server, mode="legacy", logging_callback=await log(others)) as quiet,
    ):
        await watching.call_tool("query_database", {"query": "SELECT 1 AS one"})  # before setLevel: nothing
        await watching.set_logging_level("info")
        await watching.call_tool("query_database", {"query": "SELECT 2 AS two"})
        await watching.call_tool("query_database", {"query": "DROP TABLE marts.dim_customers"})
        await quiet.call_tool("query_database", {"query": "SELECT 3 AS three"})
    assert [(p.level, p.data["tool"], p.data["outcome"]) for p in heard] == [
        ("info", "query_database", "ok"),
        ("warning", "query_database", "QueryError"),
    ]
    assert all("SELECT" not in json.dumps(p.data) for p in heard) and others == []
