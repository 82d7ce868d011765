"""docker-compose.yml agrees with the settings class: services, env vars, ports, URLs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml

from warehouse.settings import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
REQUIRED = {
    "warehouse-db",
    "dagster-db",
    "redis",
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "dbt-docs",
    "mcp-server",
    "mcp-gateway",
    "prometheus",
    "otel-collector",
    "jaeger",
    "grafana",
}
# Variables read by the images we run or by the OpenTelemetry SDK, not by our settings class.
FOREIGN_VARS = {
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "COLLECTOR_OTLP_ENABLED",
    "MEMORY_MAX_TRACES",
    "GF_SECURITY_ADMIN_USER",
    "GF_SECURITY_ADMIN_PASSWORD",
    "GF_AUTH_ANONYMOUS_ENABLED",
    "GF_AUTH_ANONYMOUS_ORG_ROLE",
    "GF_USERS_ALLOW_SIGN_UP",
    "GF_SERVER_ROOT_URL",
    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
}


def _settings_env_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.update(str(c) for c in choices)
        else:
            names.add(f"TELCOPULSE_{name.upper()}")
    return names


def _container_port(service: dict) -> set[int]:
    ports = {int(str(p).split(":")[-1]) for p in service.get("ports", [])}
    ports |= {int(p) for p in service.get("expose", [])}
    return ports


DEFAULT_PORTS = {"postgres:16": 5432, "redis:7": 6379}


def test_all_services_present() -> None:
    assert set(SERVICES) >= REQUIRED


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_env_vars_are_known_settings(name: str) -> None:
    known = _settings_env_names() | FOREIGN_VARS
    unknown = set(SERVICES[name].get("environment", {})) - known
    assert not unknown, f"{name} sets variables no code reads: {unknown}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_env_values_parse_into_settings(name: str) -> None:
    env = {k: str(v) for k, v in SERVICES[name].get("environment", {}).items() if k not in FOREIGN_VARS}
    settings = Settings(**{k: v for k, v in env.items()})
    if "DATABASE_URL" in env:
        assert settings.database_url == env["DATABASE_URL"]


def test_urls_point_at_services_and_their_ports() -> None:
    app_env = SERVICES["dagster-code"]["environment"]
    for var in ("DATABASE_URL", "REDIS_URL", "DAGSTER_PG_URL"):
        url = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", app_env[var]))
        host = url.hostname
        assert host in SERVICES, f"{var} points at unknown host {host}"
        image_port = DEFAULT_PORTS[SERVICES[host]["image"]]
        assert (url.port or image_port) == image_port


def test_dagster_pg_url_uses_psycopg2_driver() -> None:
    assert SERVICES["dagster-code"]["environment"]["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")


def test_webserver_port_matches_settings_default() -> None:
    assert Settings().dagster_port in _container_port(SERVICES["dagster-webserver"])


def test_dagster_services_share_one_workspace_and_code_server() -> None:
    workspace = yaml.safe_load((PROJECT_ROOT / "deploy/workspace.docker.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    assert grpc["host"] == "dagster-code"
    assert grpc["port"] in _container_port(SERVICES["dagster-code"])
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "deploy/workspace.docker.yaml" in SERVICES[name]["command"]


def test_depends_on_names_exist() -> None:
    for name, service in SERVICES.items():
        deps = service.get("depends_on", [])
        for dep in deps if isinstance(deps, list) else deps.keys():
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"


def test_no_password_is_committed() -> None:
    for service in SERVICES.values():
        password = service.get("environment", {}).get("POSTGRES_PASSWORD")
        if password is not None:
            assert password.startswith("${") and ":?" in password, "passwords must come from the environment"
    for var in ("DATABASE_URL", "DAGSTER_PG_URL"):
        url = SERVICES["dagster-code"]["environment"][var]
        assert re.search(r"://[^:/]+:\$\{[A-Z_]+:\?[^}]*\}@", url), f"{var} must take its password from env"


def test_mcp_replicas_are_stateless_behind_the_gateway(monkeypatch) -> None:
    server = SERVICES["mcp-server"]
    assert server["deploy"]["replicas"] >= 2
    for key, value in server["environment"].items():
        monkeypatch.setenv(key, str(value))
    env = Settings()
    assert env.mcp_stateless is True
    assert "mcp-gateway" in env.mcp_allowed_hosts
    assert str(Settings().mcp_port) in " ".join(server["command"])
    assert server["environment"]["TELCOPULSE_FERNET_KEYS"].startswith("${TELCOPULSE_FERNET_KEYS:?")
    nginx = (PROJECT_ROOT / "deploy/nginx.conf").read_text()
    assert f"server mcp-server:{Settings().mcp_port};" in nginx
    assert "proxy_buffering off;" in nginx
    gateway = SERVICES["mcp-gateway"]
    assert any(str(p).endswith(f":{Settings().mcp_port}") for p in gateway["ports"])
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in gateway["volumes"]


def test_image_contains_every_package_of_the_distribution() -> None:
    """The editable install in the image only finds packages that were copied before it."""
    import tomllib

    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in patterns if (PROJECT_ROOT / p.rstrip("*")).is_dir()}
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    assert {"analyses", "mcp_server"} <= packages
