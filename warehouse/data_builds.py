"""The data version people see: what `telcopulse status` reports about the marts.

The version string is the one the MCP server and the analysis cache use
(`analysis_store.DATA_VERSION_SQL`), so the three never disagree.
"""

from __future__ import annotations

import datetime as dt

from warehouse.analysis_store import DATA_VERSION_SQL
from warehouse.db import connect

_LAST_FINISHED_SQL = "SELECT max(finished_at) FROM ops.data_builds"


def latest_build(database_url: str) -> tuple[str, dt.datetime] | None:
    """(data version, when the newest build finished), or None before the first build."""
    with connect(database_url) as conn:
        finished = conn.execute(_LAST_FINISHED_SQL).fetchone()
        if not finished or finished[0] is None:
            return None
        version = conn.execute(DATA_VERSION_SQL).fetchone()
    return str(version[0] if version else "none"), finished[0].astimezone(dt.UTC)
