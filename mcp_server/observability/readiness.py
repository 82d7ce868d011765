"""`/readyz`: whether this replica can answer tools now, per dependency, in words and no internals.

Ready means PostgreSQL answers, its schema has every migration this code ships, Redis answers,
and the dbt manifest (the data dictionary the tools describe marts with) is loaded. A load
balancer takes a replica out on 503 and back on 200; the body names what is failing so an
operator knows where to look, and never carries a driver message, host or credential.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from warehouse.migrate import APPLIED_VERSION_SQL, latest_version

if TYPE_CHECKING:
    from mcp_server.context import AppContext

CHECK_TIMEOUT_S = 2.0
NO_MANIFEST = "no dbt manifest yet: run `telcopulse refresh`"


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)  # dependency -> "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(state == "ok" for state in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != "ok"]

    def body(self) -> dict[str, object]:
        status = "ready" if self.ready else "unready"
        return {"status": status, "failing": self.failing, "checks": self.checks}


async def check_readiness(app: AppContext | None) -> Readiness:
    if app is None:
        return Readiness({"server": "still starting"})
    postgres, migrations = await _postgres(app)
    return Readiness(
        {
            "postgres": postgres,
            "migrations": migrations,
            "redis": await _redis(app),
            "dbt_manifest": "ok" if app.manifest.models() else NO_MANIFEST,
        }
    )


async def _postgres(app: AppContext) -> tuple[str, str]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            applied = await app.pool.fetchval(APPLIED_VERSION_SQL)
    except asyncpg.UndefinedTableError:  # reachable, never migrated
        return "ok", "no migrations applied: run `telcopulse migrate`"
    except Exception:  # any other failure to answer is "cannot be reached"; no driver text leaks
        return "cannot be reached", "unknown while PostgreSQL cannot be reached"
    wanted = latest_version()
    if applied < wanted:
        return "ok", f"{wanted - applied} migration(s) pending: run `telcopulse migrate`"
    return "ok", "ok"


async def _redis(app: AppContext) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await app.redis.ping()
    except Exception:  # as for PostgreSQL
        return "cannot be reached"
    return "ok"
