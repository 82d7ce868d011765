"""The compose stack's observability: Prometheus scrapes every replica, traces reach Jaeger, and the
Grafana dashboard only asks for series the server exports, from datasources that are provisioned."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Metric

from mcp_server.observability.metrics import ServerMetrics
from warehouse.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
DASHBOARD_PATH = PROJECT_ROOT / "deploy/observability/grafana/dashboards/telcopulse.json"
DASHBOARD = json.loads(DASHBOARD_PATH.read_text())
# Prometheus writes `up` for every target itself; the server does not export it.
PROMETHEUS_OWN = {"up"}
# Grafana's built-in annotation source: never provisioned, always there.
GRAFANA_BUILTIN_UID = "-- Grafana --"

# The series each metric type adds to its family name in the text format.
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
# Words of PromQL that look like identifiers but are no metric (aggregations written before their
# parentheses, set and grouping operators, modifiers, literals).
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end",
}  # fmt: skip


# --- helpers -------------------------------------------------------------------------------------


def _exported_families() -> list[Metric]:
    """Every metric family a server's registry can render, read from a fresh `ServerMetrics`.

    `collect()` alone misses families a collector renders only once it has read its figures (the
    pipeline's come from PostgreSQL at scrape time), so each collector's `describe()` counts too.
    prometheus-client keeps no public list of a registry's collectors, hence the private mapping.
    """
    registry = ServerMetrics("test").registry
    families = list(registry.collect())
    for collector in list(registry._collector_to_names):
        describe = getattr(collector, "describe", None)
        families.extend(describe() if describe is not None else collector.collect())
    return families


def _exported_series() -> set[str]:
    """Every series name a server can expose."""
    names: set[str] = set()
    for family in _exported_families():
        # A labelled counter or histogram with no child yet has no samples: derive from the type too.
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SERIES_SUFFIXES[family.type])
    return names


def _strip_balanced(expr: str, opening: str, closing: str) -> str:
    """Drop every `opening ... closing` span (nesting-aware), keeping a space in its place."""
    out, depth = [], 0
    for char in expr:
        if char == opening:
            depth += 1
        elif char == closing and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif not depth:
            out.append(char)
    return "".join(out)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or label names)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    expr = _strip_balanced(expr, "{", "}")  # label matchers
    expr = _strip_balanced(expr, "[", "]")  # ranges and subqueries: [5m], [$__rate_interval]
    # Label lists: by (...), without (...), on (...), ignoring (...), group_left (...), group_right (...).
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    # A whole identifier (no backtracking into a shorter one) not called like a function.
    tokens = re.findall(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()", expr)
    return {token for token in tokens if token.lower() not in PROMQL_WORDS}


def _variable_promql(query: Any) -> list[str]:
    """The PromQL inside a Grafana query variable (label_values(expr, label), query_result(expr))."""
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    if match := re.fullmatch(r"\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*", text, flags=re.DOTALL):
        return [match.group(1)]
    if match := re.fullmatch(r"\s*query_result\((.*)\)\s*", text, flags=re.DOTALL):
        return [match.group(1)]
    if re.fullmatch(r"\s*(label_values\(\s*\w+\s*\)|label_names\(.*\)|metrics\(.*\))?\s*", text):
        return []  # no metric selector in it
    return [text]


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def dashboard_exprs(dashboard: dict) -> list[str]:
    exprs = [node["expr"] for node in _walk(dashboard.get("panels", [])) if isinstance(node.get("expr"), str)]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            exprs.extend(_variable_promql(variable.get("query")))
    return [expr for expr in exprs if expr.strip()]


def _mounts(service: dict) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (compose short syntax)."""
    mounts = {}
    for volume in service.get("volumes", []):
        host, container = str(volume).split(":")[:2]
        if host.startswith("."):
            mounts[container] = (PROJECT_ROOT / host).resolve()
    return mounts


def _host_path(service: dict, container_path: str) -> Path:
    """Where a file or folder the container reads lives in the repo, through its bind mounts."""
    for target, source in sorted(_mounts(service).items(), key=lambda item: -len(item[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted into the container")


def _component_type(name: str) -> str:
    return name.split("/", 1)[0]


def _provisioned(kind: str) -> list[dict]:
    """Every `datasources` or `providers` entry Grafana provisions from the mounted folder."""
    folder = _host_path(SERVICES["grafana"], "/etc/grafana/provisioning") / kind
    key = "datasources" if kind == "datasources" else "providers"
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    assert files, f"no provisioning file in {folder}"
    return [entry for file in files for entry in yaml.safe_load(file.read_text()).get(key, [])]


# --- the dashboard's queries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'histogram_quantile(0.95, sum by (le, tool) (rate(a_bucket{instance=~"$instance"}[$__rate_interval])))',
            {"a_bucket"},
        ),
        ('sum(rate(b_total{result="hit"}[5m])) / sum without (result) (rate(b_total[5m]))', {"b_total"}),
        ('max by (job, status) (increase(c_total{status="failure"}[24h])) or vector(0)', {"c_total"}),
        ("a / on (instance) group_left (version) b offset 1h > bool 1e3", {"a", "b"}),
        ('up{job="mcp-server", instance=~"x:1|y:2"} == 1', {"up"}),
    ],
)
def test_metric_name_extraction(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_template_variables_yield_their_promql() -> None:
    assert _variable_promql({"query": 'label_values(up{job="mcp-server"}, instance)'}) == [
        'up{job="mcp-server"}'
    ]
    assert _variable_promql("label_values(instance)") == []


def test_dashboard_queries_only_name_exported_series() -> None:
    exprs = dashboard_exprs(DASHBOARD)
    assert len(exprs) >= 10, "the dashboard's queries were not found"
    allowed = _exported_series() | PROMETHEUS_OWN
    unknown = {name: expr for expr in exprs for name in metric_names(expr) if name not in allowed}
    assert not unknown, f"the dashboard asks for series the server does not export: {unknown}"


def test_dashboard_shows_every_exported_metric() -> None:
    named = {name for expr in dashboard_exprs(DASHBOARD) for name in metric_names(expr)}
    series = {
        family.name: {family.name + suffix for suffix in SERIES_SUFFIXES[family.type]}
        for family in _exported_families()
    }
    missing = {family for family, names in series.items() if not names & named}
    assert not missing, f"no panel shows {sorted(missing)}"


def test_every_panel_is_described() -> None:
    panels = [node for node in _walk(DASHBOARD["panels"]) if "gridPos" in node and node.get("type") != "row"]
    assert panels
    for panel in panels:
        assert panel.get("description", "").strip(), f"panel {panel.get('title')!r} has no description"
        assert panel.get("targets"), f"panel {panel.get('title')!r} has no query"


def test_dashboard_datasources_are_provisioned() -> None:
    provisioned = {source["uid"] for source in _provisioned("datasources")}
    used = {
        node["datasource"]["uid"]
        for node in _walk(DASHBOARD)
        if isinstance(node.get("datasource"), dict) and "uid" in node["datasource"]
    }
    assert used, "the dashboard names no datasource"
    assert used - {GRAFANA_BUILTIN_UID} <= provisioned, f"not provisioned: {used - provisioned}"
    assert {"prometheus", "jaeger"} <= provisioned


def test_provisioned_datasources_point_at_compose_services() -> None:
    for source in _provisioned("datasources"):
        host, port = re.fullmatch(r"https?://([\w-]+):(\d+)/?", source["url"]).groups()
        assert host in SERVICES, f"datasource {source['uid']} points at unknown service {host}"
        exposed = {str(p).split(":")[-1] for p in SERVICES[host].get("ports", [])}
        exposed |= {str(p) for p in SERVICES[host].get("expose", [])}
        assert port in exposed, f"{host} does not listen on {port} for datasource {source['uid']}"


# --- Prometheus ----------------------------------------------------------------------------------


def test_prometheus_scrapes_every_mcp_replica() -> None:
    prometheus = SERVICES["prometheus"]
    assert "9090:9090" in prometheus["ports"]
    config = yaml.safe_load(_host_path(prometheus, "/etc/prometheus/prometheus.yml").read_text())
    port = Settings().mcp_port
    assert str(port) in SERVICES["mcp-server"]["expose"]
    jobs = [
        job
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        if "mcp-server" in sd["names"] and sd.get("type", "SRV") == "A" and sd.get("port") == port
    ]
    assert len(jobs) == 1, "Prometheus must find each mcp-server replica through Docker's DNS (type A)"
    assert jobs[0].get("metrics_path", "/metrics") == "/metrics"
    # The server's labels never clash with the scrape's own `job`/`instance` (the Dagster job is
    # `dagster_job`), so Prometheus need not honour them.
    assert not jobs[0].get("honor_labels")
    # Never through the gateway: it balances across replicas (and refuses /metrics).
    targets = [
        t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]
    ]
    assert not [t for t in targets if t.startswith(("mcp-gateway", "mcp-server"))]


def test_metrics_are_public_inside_the_network_only() -> None:
    assert SERVICES["mcp-server"]["environment"]["TELCOPULSE_METRICS_PUBLIC"] == "true"
    assert not SERVICES["mcp-server"].get("ports"), "the replicas' port must stay inside the compose network"
    nginx = (PROJECT_ROOT / "deploy/nginx.conf").read_text()
    assert re.search(r"location\s+(=\s*)?/metrics\s*\{\s*return\s+404;\s*\}", nginx), (
        "nginx must refuse /metrics"
    )


# --- traces --------------------------------------------------------------------------------------


def test_collector_sends_otlp_traces_to_jaeger() -> None:
    collector = SERVICES["otel-collector"]
    config_arg = next(arg for arg in collector["command"] if arg.startswith("--config="))
    config = yaml.safe_load(_host_path(collector, config_arg.removeprefix("--config=")).read_text())
    traces = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(traces.get(kind, [])) <= set(config.get(kind) or {}), (
            f"undefined {kind} in the traces pipeline"
        )

    receivers = [config["receivers"][name] for name in traces["receivers"] if _component_type(name) == "otlp"]
    assert receivers, "the traces pipeline has no otlp receiver"
    protocols = receivers[0]["protocols"]
    # Other containers reach the collector only if it listens beyond localhost.
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert {"4317", "4318"} <= set(collector["expose"])

    exporters = [config["exporters"][name] for name in traces["exporters"] if _component_type(name) == "otlp"]
    assert [e["endpoint"] for e in exporters] == ["jaeger:4317"]
    assert exporters[0]["tls"]["insecure"] is True
    jaeger = SERVICES["jaeger"]
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert "4317" in jaeger["expose"]
    assert "16686:16686" in jaeger["ports"]


@pytest.mark.parametrize(("name", "service_name"), [("mcp-server", "telcopulse-mcp")])
def test_services_trace_to_the_collector(name: str, service_name: str) -> None:
    env = SERVICES[name]["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"  # port 4318 is the OTLP/HTTP receiver
    assert env["OTEL_SERVICE_NAME"] == service_name
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert float(env["OTEL_TRACES_SAMPLER_ARG"]) == pytest.approx(0.1)
    assert env["DATABASE_URL"] == SERVICES["dbt-docs"]["environment"]["DATABASE_URL"], (
        "the app env must stay merged"
    )


# --- Grafana -------------------------------------------------------------------------------------


def test_grafana_loads_the_committed_dashboard() -> None:
    grafana = SERVICES["grafana"]
    file_providers = [p for p in _provisioned("dashboards") if p.get("type", "file") == "file"]
    assert file_providers
    for provider in file_providers:
        folder = _host_path(grafana, provider["options"]["path"])
        assert folder == DASHBOARD_PATH.parent, f"provider {provider['name']} reads {folder}"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert _host_path(grafana, home) == DASHBOARD_PATH
    assert DASHBOARD["uid"] == "telcopulse"


def test_grafana_admin_password_comes_from_the_environment() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "3001:3000" in SERVICES["grafana"]["ports"], "host port 3000 is the Dagster UI"


@pytest.mark.parametrize("name", ["prometheus", "otel-collector", "jaeger", "grafana"])
def test_observability_images_are_pinned(name: str) -> None:
    image = SERVICES[name]["image"]
    assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name} must pin a version, not {image}"
