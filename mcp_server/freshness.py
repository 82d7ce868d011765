"""How fresh and how well-tested an answer's data is: one `Freshness`, the same in every answer.

The data version and its build time come from `ops.data_builds`; the last raw load or file import
from `ops.raw_loads` / `ops.imports`; the check outcomes from what each build recorded for the marts
it rebuilt (`warehouse.build_events`), taking for every mart the newest build that checked it. An
answer is `stale` when the marts are older than `TELCOPULSE_STALE_AFTER` or a check on a mart it
touched failed, with a warning in plain words.

Every warehouse answer carries it, so it must not cost a round trip per call: what it reads is
cached per data version for a few seconds (`FreshnessSource`), and only the age is computed per
answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import asyncpg
from pydantic import BaseModel, Field

from mcp_server.cache import DataVersion
from mcp_server.dependencies import LOOKUP_TIMEOUT, postgres_connection
from warehouse.build_events import CHECK_OUTCOMES

CheckVerdict = Literal["passed", "warned", "failed", "unchecked"]

_LATEST_BUILD_SQL = (
    "SELECT build_id, finished_at FROM ops.data_builds ORDER BY finished_at DESC, build_id DESC LIMIT 1"
)
_LAST_LOAD_SQL = (
    "SELECT greatest((SELECT max(loaded_at) FROM ops.raw_loads),"
    " (SELECT max(finished_at) FROM ops.imports WHERE status = 'loaded'))"
)
# Per mart, the check counts of the newest build that ran its checks.
_CHECKS_SQL = """
SELECT DISTINCT ON (mart.key) mart.key, mart.value
FROM ops.data_builds AS build, jsonb_each(build.details -> 'checks') AS mart
ORDER BY mart.key, build.finished_at DESC, build.build_id DESC
"""


class Freshness(BaseModel):
    """What the answer's data is: which build, how old, what was loaded last, how its checks went."""

    data_version: str = Field(description="The mart build the answer reflects ('none' before the first)")
    built_at: str | None = Field(description="When that build finished (UTC, ISO 8601)")
    age_seconds: float | None = Field(description="Seconds since that build finished")
    last_load_at: str | None = Field(description="The newest raw load or file import (UTC, ISO 8601)")
    checks: dict[str, CheckVerdict] = Field(
        default_factory=dict,
        description="Per mart the answer touched: how the dbt tests of the newest build that ran them went",
    )
    stale: bool = Field(
        description="True when the data is older than the limit or a touched mart failed a check"
    )
    warning: str | None = Field(default=None, description="Why the answer is stale, in plain words")


def touched_marts(tables: Iterable[str], marts: Iterable[str]) -> list[str]:
    """The marts among the relations a query names (`marts.x`, or `x` when a mart has that name)."""
    known = set(marts)
    touched = set()
    for table in tables:
        schema, _, name = table.rpartition(".")
        if schema in ("", "marts") and name in known:
            touched.add(name)
    return sorted(touched)


def verdict(counts: dict[str, int] | None) -> CheckVerdict:
    """failed if any check failed, else warned if any warned, else passed; unchecked with none."""
    if not counts or not any(counts.get(o, 0) for o in CHECK_OUTCOMES):
        return "unchecked"
    if counts.get("failed", 0):
        return "failed"
    return "warned" if counts.get("warned", 0) else "passed"


@dataclass(frozen=True)
class _Snapshot:
    version: str
    # The data version (`DataVersion.current()`: build and raw load) it was read under; the
    # cache key. Not `version`, which is the build id alone and never equals it.
    read_under: str
    built_at: dt.datetime | None
    last_load_at: dt.datetime | None
    checks: dict[str, CheckVerdict]
    read_at: float


class FreshnessSource:
    """`Freshness` for any set of marts, from one cached snapshot of the build records."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        version: DataVersion,
        *,
        stale_after: float,
        acquire_timeout: float,
        ttl: float = 5.0,
    ) -> None:
        self._pool = pool
        self._version = version
        self._stale_after = stale_after
        self._acquire_timeout = acquire_timeout
        self._ttl = ttl
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()

    async def for_marts(self, marts: Iterable[str]) -> Freshness:
        snapshot = await self._current()
        touched = sorted(set(marts))
        checks = {mart: snapshot.checks.get(mart, "unchecked") for mart in touched}
        age = (dt.datetime.now(dt.UTC) - snapshot.built_at).total_seconds() if snapshot.built_at else None
        reasons = []
        if snapshot.built_at is None:
            reasons.append("the marts have never been built; run `telcopulse refresh`")
        elif age is not None and age > self._stale_after:
            reasons.append(
                f"the marts were last built {_duration(age)} ago, more than the "
                f"{_duration(self._stale_after)} limit; run `telcopulse refresh` or check the schedule"
            )
        failed = [mart for mart, outcome in checks.items() if outcome == "failed"]
        if failed:
            reasons.append(
                f"data tests failed on {', '.join(failed)} in its latest checked build; "
                "treat its figures with care"
            )
        return Freshness(
            data_version=snapshot.version,
            built_at=_iso(snapshot.built_at),
            age_seconds=round(max(age, 0.0), 3) if age is not None else None,
            last_load_at=_iso(snapshot.last_load_at),
            checks=checks,
            stale=bool(reasons),
            warning="; ".join(reasons) or None,
        )

    async def _current(self) -> _Snapshot:
        version = await self._version.current()
        snapshot = self._snapshot
        if snapshot is not None and self._usable(snapshot, version):
            return snapshot
        async with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and self._usable(snapshot, version):
                return snapshot
            self._snapshot = snapshot = await self._read(version)
            return snapshot

    def _usable(self, snapshot: _Snapshot, version: str) -> bool:
        """Read under this data version and within the TTL."""
        return snapshot.read_under == version and time.monotonic() - snapshot.read_at <= self._ttl

    async def _read(self, read_under: str) -> _Snapshot:
        async with postgres_connection(
            self._pool, acquire_timeout=self._acquire_timeout, timeouts_mean_down=True
        ) as conn:
            build = await conn.fetchrow(_LATEST_BUILD_SQL, timeout=LOOKUP_TIMEOUT)
            last_load = await conn.fetchval(_LAST_LOAD_SQL, timeout=LOOKUP_TIMEOUT)
            rows = await conn.fetch(_CHECKS_SQL, timeout=LOOKUP_TIMEOUT)
        checks = {row["key"]: verdict(_json(row["value"])) for row in rows}
        return _Snapshot(
            version=str(build["build_id"]) if build else "none",
            read_under=read_under,
            built_at=build["finished_at"] if build else None,
            last_load_at=last_load,
            checks=checks,
            read_at=time.monotonic(),
        )

    def invalidate(self) -> None:
        self._snapshot = None


def _json(value: object) -> dict[str, int]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else {}


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
