"""Let every command find the services a running `telcopulse up` started.

Exported URLs always win. When DATABASE_URL or REDIS_URL is missing and an `up` holds
this data dir, the command uses the URLs from its state file and says so on stderr
(stdout may be a protocol, as for `serve --transport stdio`, or a captured key).
This module is part of the CLI, the composition root, so it may write the environment:
the Dagster and dbt child processes read their URLs from there.
"""

from __future__ import annotations

import os

from telcopulse.state import running_state, state_path
from warehouse.settings import Settings, get_settings


def adopt_running_services(settings: Settings) -> str | None:
    """Fill missing URLs from a running `up`; returns the note to print, None if none applied."""
    if settings.database_url and settings.redis_url:
        return None
    state = running_state(settings.data_dir)
    if state is None:
        return None
    used = []
    if not settings.database_url and state.database_url:
        os.environ["DATABASE_URL"] = state.database_url
        used.append("PostgreSQL")
    if not settings.redis_url and state.redis_url:
        os.environ["REDIS_URL"] = state.redis_url
        used.append("Redis")
    if not used:
        return None
    get_settings.cache_clear()
    return (
        f"using the {' and '.join(used)} of the running `telcopulse up` (pid {state.pid}), "
        f"from {state_path(settings.data_dir)}"
    )
