"""Where analysis results live, shared by the Dagster precompute and the MCP server.

Both sides must compute the same cache key for the same question, so the key, the data
version query and the Postgres table are defined once, here. A result is keyed by the
data version (last mart build + last raw load): a refresh changes the version, so a stale
result can never be served, and nothing needs deleting.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from warehouse.db import warehouse_id

ANALYSIS_TTL_SECONDS = 3600

DATA_VERSION_SQL = """
SELECT coalesce(
           (SELECT build_id FROM ops.data_builds ORDER BY finished_at DESC, build_id DESC LIMIT 1), 'none')
       || ':' || coalesce((SELECT max(load_id) FROM ops.raw_loads)::text, '0')
"""

UPSERT_RESULT_SQL = """
INSERT INTO analytics.analysis_results
    (data_version, analysis_type, data_source, params_hash, parameters, result, row_count, duration_ms,
     computed_by)
VALUES (%(data_version)s, %(analysis_type)s, %(data_source)s, %(params_hash)s, %(parameters)s, %(result)s,
        %(row_count)s, %(duration_ms)s, %(computed_by)s)
ON CONFLICT (data_version, analysis_type, data_source, params_hash) DO UPDATE
SET result = EXCLUDED.result, row_count = EXCLUDED.row_count, computed_at = now(),
    duration_ms = EXCLUDED.duration_ms, computed_by = EXCLUDED.computed_by
"""

# The MCP server's copy (asyncpg placeholders): a result computed on demand never replaces
# the precomputed one of the same key.
INSERT_RESULT_ASYNC_SQL = """
INSERT INTO analytics.analysis_results
    (data_version, analysis_type, data_source, params_hash, parameters, result, row_count, duration_ms,
     computed_by)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, 'mcp')
ON CONFLICT (data_version, analysis_type, data_source, params_hash) DO NOTHING
"""

SELECT_RESULT_SQL = """
SELECT result, row_count, computed_at FROM analytics.analysis_results
WHERE data_version = $1 AND analysis_type = $2 AND data_source = $3 AND params_hash = $4
"""


def params_hash(parameters: dict[str, Any]) -> str:
    """Order-insensitive hash of the parameters (the same question asked in another order)."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


ANALYSIS_CACHE_PREFIX = "telcopulse:analysis"


def analysis_cache_pattern(database_url: str) -> str:
    """Redis key pattern of every cached analysis of one warehouse (for `cache_clear`)."""
    return f"{ANALYSIS_CACHE_PREFIX}:{warehouse_id(database_url)}:*"


def analysis_cache_key(
    database_url: str, data_version: str, analysis_type: str, data_source: str, parameters: dict[str, Any]
) -> str:
    return ":".join(
        [
            ANALYSIS_CACHE_PREFIX,
            warehouse_id(database_url),
            data_version,
            analysis_type,
            data_source,
            params_hash(parameters),
        ]
    )
