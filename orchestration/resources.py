"""Resources shared by the domains: the warehouse connection."""

from __future__ import annotations

import dagster as dg

from warehouse.settings import get_settings


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse PostgreSQL.

    Leave `database_url` unset to take DATABASE_URL at run time (never at import, and
    never shown in the UI's resource config, since it may hold a password); tests pass an
    explicit URL.
    """

    database_url: str | None = None

    def url(self) -> str:
        return self.database_url or get_settings().require_database_url()


class RedisResource(dg.ConfigurableResource):
    """The Redis that holds the analysis cache; unset means REDIS_URL at run time (or none)."""

    redis_url: str | None = None

    def url(self) -> str | None:
        return self.redis_url or get_settings().redis_url
