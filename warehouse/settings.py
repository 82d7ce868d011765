"""The one place that reads configuration from the environment.

Every other module receives a `Settings` (or values taken from it) as an argument, so
nothing reads `os.environ` or connects at import time, and tests can build settings
by hand.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.caller_roles import Role
from warehouse.db import dbt_connection_env

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class ConfigurationError(RuntimeError):
    """A setting the command needs is missing; the message says how to provide it."""


class Settings(BaseSettings):
    """Runtime configuration. Names are the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="TELCOPULSE_", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "TELCOPULSE_DATABASE_URL"),
        description="Warehouse PostgreSQL URL. Unset: `telcopulse up` starts an embedded PostgreSQL.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "TELCOPULSE_REDIS_URL"),
        description="Redis URL for caches and sessions. Unset: `telcopulse up` starts an embedded Redis.",
    )
    dagster_pg_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DAGSTER_PG_URL", "TELCOPULSE_DAGSTER_PG_URL"),
        description="PostgreSQL URL for Dagster run/event storage. Unset: SQLite under DAGSTER_HOME.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".telcopulse",
        description="Where embedded PostgreSQL/Redis, DAGSTER_HOME and generated keys live.",
    )
    dagster_home_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("DAGSTER_HOME", "TELCOPULSE_DAGSTER_HOME"),
        description="Dagster instance directory. Unset: <data_dir>/dagster_home.",
    )
    customers: int = Field(default=10_000, ge=1, description="Customers the synthetic generator creates.")
    seed: int = Field(default=42, description="Random seed of the synthetic generator.")
    history_months: int = Field(default=13, ge=1, le=120, description="Months of history generated.")
    end_date: dt.date | None = Field(
        default=None, description="Last day of generated history (UTC). Unset: today."
    )
    dagster_host: str = Field(default="127.0.0.1", description="Dagster UI bind address.")
    dagster_port: int = Field(default=3000, description="Dagster UI port.")
    docs_host: str = Field(default="127.0.0.1", description="dbt docs (data dictionary) bind address.")
    docs_port: int = Field(default=8080, description="dbt docs (data dictionary) port.")
    refresh_cron: str = Field(default="0 3 * * *", description="Cron (UTC) of the daily mart refresh.")
    dbt_threads: int = Field(default=2, ge=1, description="dbt worker threads.")
    landing_dir_path: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("TELCOPULSE_LANDING_DIR"),
        description="Landing folder watched by the Dagster sensor: drop files into <dir>/<table>/. "
        "Unset: <data_dir>/landing.",
    )
    landing_settle_seconds: float = Field(
        default=5.0,
        ge=0,
        description="A landed file is imported once unchanged for this long (so half-copied files wait).",
    )

    # --- MCP server ---
    mcp_host: str = Field(default="127.0.0.1", description="MCP streamable-HTTP bind address.")
    mcp_port: int = Field(default=8000, description="MCP streamable-HTTP port (endpoint path /mcp).")
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra Host header values the HTTP transport accepts (DNS-rebinding protection), "
        'e.g. ["mcp.example.com"]. Local addresses are always allowed.',
    )
    mcp_stateless: bool = Field(
        default=False,
        description="Serve HTTP without server-side MCP sessions, so any replica can answer any request.",
    )
    http_header_timeout: float = Field(
        default=10, gt=0, description="Seconds a client may take to send its request headers (slowloris)."
    )
    http_body_timeout: float = Field(
        default=30, gt=0, description="Seconds a client may take to send its request body after the headers."
    )
    http_max_connections: int = Field(
        default=4096, ge=1, description="Open HTTP connections in total; requests beyond it get 503."
    )
    http_max_connections_per_client: int = Field(
        default=1024,
        ge=1,
        description="Open HTTP connections from one client address; beyond it, 503. Behind a proxy "
        "(nginx, the compose gateway) every agent shares one address, and each MCP client holds up "
        "to two connections: the default leaves room for 200 agents with margin; lower it when "
        "clients connect directly.",
    )
    db_pool_min: int = Field(
        default=5,
        ge=1,
        description="Connections kept open in the pool for agents' SQL (the server's own: 2).",
    )
    db_pool_max: int = Field(
        default=20, ge=1, description="Connections per pool at most (two pools per server process)."
    )
    db_connect_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to open one PostgreSQL connection before giving up."
    )
    db_pool_acquire_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a call waits for a free pooled PostgreSQL connection before it answers "
        "Unavailable (all connections busy).",
    )
    redis_connect_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to open one Redis connection before giving up."
    )
    redis_socket_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a Redis reply (bounds a stalled Redis)."
    )
    redis_max_connections: int = Field(
        default=64, ge=1, description="Redis connections per server process (callers queue beyond it)."
    )
    query_role: str = Field(
        default="telcopulse_query",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL role ad-hoc SQL runs as (SELECT-only on the allowed schemas).",
    )
    query_admin_role: str = Field(
        default="telcopulse_query_admin",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="Role admins' ad-hoc SQL runs as (adds SELECT on raw).",
    )
    query_schemas: list[str] = Field(
        default_factory=lambda: ["marts", "intermediate", "staging"],
        description="Schemas the query role may read.",
    )
    query_function_schemas: list[str] = Field(
        default_factory=list,
        description="Schemas whose functions agents' SQL may call, besides PostgreSQL's built-in "
        'functions (for an extension such as PostGIS), as a JSON list: ["postgis"].',
    )
    query_timeout_max: int = Field(default=120, ge=1, description="Upper bound (s) on a query's timeout.")
    query_max_rows: int = Field(default=5_000, ge=1, description="Rows returned per page at most.")
    query_max_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Serialized result bytes per page at most (JSON)."
    )
    query_cache_ttl: int = Field(default=300, ge=0, description="Query-result cache TTL (s); 0 disables.")
    export_dir: Path | None = Field(
        default=None, description="Folder of export_result's files. Unset: <data_dir>/exports."
    )
    export_ttl: float = Field(default=3600, gt=0, description="Seconds an export stays readable.")
    export_bucket: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$",
        description="An S3-compatible bucket and prefix (s3://bucket/prefix) that keeps export files instead "
        "of the export folder, so every replica serves every export. Credentials: the standard AWS "
        "variables or config files.",
    )
    export_s3_endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+/?$",
        description="The S3-compatible service's address (MinIO, Ceph, R2...). Unset: AWS S3.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The server's address as people reach it (e.g. behind a load balancer), for export "
        "download links. Unset: the address of the request that made the export.",
    )
    export_max_rows: int = Field(default=1_000_000, ge=1, description="Rows one export may hold at most.")
    export_max_bytes: int = Field(
        default=500_000_000, ge=1, description="Bytes one export file may reach at most."
    )
    max_query_cost: float | None = Field(
        default=None,
        gt=0,
        description="query_database refuses plans the planner costs above this (EXPLAIN units); admins are "
        "exempt. Unset: no limit.",
    )
    stale_after: float = Field(
        default=26 * 3600,
        gt=0,
        description="Seconds after the last mart build at which answers are flagged `stale`.",
    )
    query_cache_local_mb: int = Field(
        default=32,
        ge=0,
        description="MiB of recent cached results each server process keeps in memory in front of Redis "
        "(answered without a Redis round trip for up to 5 s); 0 turns it off.",
    )
    session_default_ttl: int = Field(default=3600, ge=1, description="Session TTL (s) when none is given.")
    session_max_ttl: int = Field(default=7 * 86400, ge=1, description="Longest session TTL (s) allowed.")
    fernet_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys (newest first) for session data. "
        "Unset: a key is generated once into <data_dir>/fernet.key (mode 0600).",
    )
    # --- MCP security ---
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a key. Default: an admin API key (Authorization: Bearer), "
        "as Prometheus's `authorization` scrape setting sends it.",
    )
    auth_required: bool = Field(
        default=True, description="HTTP transport demands an API key (X-API-Key or Authorization: Bearer)."
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="JSON-lines file of hashed API keys (the simple key store). Unset: keys live in "
        "PostgreSQL (ops.api_keys).",
    )
    auth_cache_ttl: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a verified API key is trusted without asking the key store again; "
        "also how long a revocation takes to reach other server processes.",
    )
    auth_outage_grace: float = Field(
        default=3600.0,
        ge=0,
        description="While the key store (PostgreSQL) is unreachable, keys this process verified "
        "within the last N seconds are still accepted from memory; other keys get 503. 0: off.",
    )
    stdio_role: Role = Field(default="analyst", description="Role of the local stdio user.")
    rate_limits: dict[str, int] = Field(
        default_factory=lambda: {"admin": 600, "analyst": 120, "viewer": 60},
        description="Tool calls per minute per API key, by role (JSON object).",
    )
    rate_limit_lease: int = Field(
        default=16,
        ge=1,
        description="Calls of one key a server may take from the shared Redis budget at once and "
        "spend without asking again (at most 5% of the key's limit): one Redis round trip per up to "
        "that many calls. Never allows more than the limit; unspent units lapse after 2 s, so a key "
        "may be refused that many calls early per server. 1 = one round trip per call, exact.",
    )
    log_format: str = Field(default="json", pattern=r"^(json|text)$", description="Server log format.")
    ssl_certfile: Path | None = Field(default=None, description="TLS certificate (PEM) for HTTPS.")
    ssl_keyfile: Path | None = Field(default=None, description="TLS private key (PEM) for HTTPS.")
    dbt_manifest_path: Path | None = Field(
        default=None, description="dbt manifest the data dictionary reads. Unset: dbt_project/target."
    )

    def require_database_url(self) -> str:
        """Return the warehouse URL or fail with a message that says how to fix it."""
        if not self.database_url:
            raise ConfigurationError(
                f"DATABASE_URL is not set and no `telcopulse up` is running for {self.data_dir}: "
                "run `make up` (it starts an embedded PostgreSQL and Redis; other commands then "
                "find them), or export DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/telcopulse"
            )
        return self.database_url

    @property
    def exports_folder(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_dir or self.data_dir / "dagster_home"

    @property
    def landing_dir(self) -> Path:
        return self.landing_dir_path or self.data_dir / "landing"

    @property
    def manifest_path(self) -> Path:
        return self.dbt_manifest_path or DBT_PROJECT_DIR / "target" / "manifest.json"

    @property
    def fernet_key_file(self) -> Path:
        return self.data_dir / "fernet.key"

    def history_end(self) -> dt.date:
        return self.end_date or dt.datetime.now(dt.UTC).date()

    def dbt_env(self) -> dict[str, str]:
        return dbt_connection_env(self.require_database_url(), threads=self.dbt_threads)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read on first use (never at import)."""
    return Settings()
