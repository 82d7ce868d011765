"""What a finished mart build tells the rest of the platform, and how it is announced.

The recorder (the Dagster dbt asset, in whichever process runs it: the daemon, `telcopulse
refresh`, a test) writes the build's row in `ops.data_builds` with the marts it rebuilt and the
outcome of their checks, and announces the build id on `BUILD_CHANNEL` with NOTIFY in the same
transaction, so the announcement is delivered at commit and only if the row is. Every MCP server
process LISTENs on the channel and reads the row back: a build anywhere reaches the subscribers of
every replica, with PostgreSQL as the only broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

BUILD_CHANNEL = "telcopulse_builds"

CheckOutcome = Literal["passed", "warned", "failed"]
CHECK_OUTCOMES: tuple[CheckOutcome, ...] = ("passed", "warned", "failed")


@dataclass(frozen=True)
class BuildSummary:
    """The marts one build rebuilt and how their checks came out (counts per outcome)."""

    marts: tuple[str, ...] = ()
    checks: Mapping[str, Mapping[CheckOutcome, int]] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """The keys this adds to `ops.data_builds.details`."""
        return {
            "marts": sorted(self.marts),
            "checks": {mart: dict(counts) for mart, counts in sorted(self.checks.items())},
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> BuildSummary:
        """Read back what `details()` wrote; a build recorded before these keys existed has none."""
        details = details or {}
        checks = {
            str(mart): {o: int(counts.get(o, 0)) for o in CHECK_OUTCOMES}
            for mart, counts in (details.get("checks") or {}).items()
            if isinstance(counts, Mapping)
        }
        return cls(marts=tuple(str(m) for m in details.get("marts") or ()), checks=checks)


class BuildTally:
    """Counts what a build's event stream says, as the recorder sees it go by."""

    def __init__(self) -> None:
        self._marts: dict[str, None] = {}
        self._checks: dict[str, dict[CheckOutcome, int]] = {}

    def rebuilt(self, mart: str) -> None:
        self._marts[mart] = None

    def checked(self, mart: str, outcome: CheckOutcome) -> None:
        counts = self._checks.setdefault(mart, dict.fromkeys(CHECK_OUTCOMES, 0))
        counts[outcome] += 1

    def summary(self) -> BuildSummary:
        return BuildSummary(marts=tuple(self._marts), checks={m: dict(c) for m, c in self._checks.items()})


# psycopg (the recorder): announce inside the transaction that records the build.
ANNOUNCE_SQL = "SELECT pg_notify(%s, %s)"

# asyncpg (the MCP server): what an announced build rebuilt.
BUILD_SQL = "SELECT build_id, finished_at, details FROM ops.data_builds WHERE build_id = $1"
