"""cache_clear deletes by pattern; each pattern comes from the module that builds the keys."""

from __future__ import annotations

from fnmatch import fnmatchcase

from mcp_server.cache import QUERY_CACHE_PREFIX, QueryCache
from warehouse.analysis_store import analysis_cache_key, analysis_cache_pattern
from warehouse.db import warehouse_id

URL = "postgresql://app@db.example:5432/telcopulse"
OTHER = "postgresql://app@db.example:5432/another"


def test_the_analysis_pattern_matches_this_warehouse_only() -> None:
    key = analysis_cache_key(URL, "build-7", "arpu", "warehouse", {"segment_by": ["plan"]})
    assert fnmatchcase(key, analysis_cache_pattern(URL))
    assert not fnmatchcase(key, analysis_cache_pattern(OTHER))


def test_the_query_cache_pattern_matches_its_keys() -> None:
    cache = QueryCache(None, ttl_seconds=60, prefix=f"{QUERY_CACHE_PREFIX}:{warehouse_id(URL)}")  # type: ignore[arg-type]
    other = QueryCache(None, ttl_seconds=60, prefix=f"{QUERY_CACHE_PREFIX}:{warehouse_id(OTHER)}")  # type: ignore[arg-type]
    key = cache.key("build-7", "default", "f1ngerprint", 0, 100)
    assert fnmatchcase(key, cache.pattern)
    assert not fnmatchcase(key, other.pattern)
