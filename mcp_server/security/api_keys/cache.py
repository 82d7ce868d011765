"""The in-process cache of successful API-key verifications.

scrypt is deliberately slow (tens of milliseconds), too slow to pay per request, so each
store keeps a small cache of successful verifications (sha256 of the presented key ->
Principal, 30 s, `TELCOPULSE_AUTH_CACHE_TTL`). Consequence, by design: a revocation takes
effect immediately in the process that revoked (its cache is purged) and within the cache
TTL everywhere else. Failed verifications are not cached; rate limiting sits in front.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mcp_server.security.identity import Principal

CACHE_TTL_S = 30.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    fresh_until: float  # monotonic; until then the entry answers without asking the store
    usable_until: float  # monotonic; until then it may answer while the store is unreachable


class VerificationCache:
    """Successful verifications, keyed by sha256 of the presented key (never the key itself).

    An entry is *fresh* for `ttl_s` (answers without asking the store) and then *stale*
    until `grace_s` after that verification (answers only while the store cannot be
    reached: `get_stale`). Neither outlives the key's own expiry. Bounded (LRU eviction)
    and thread-safe: `averify` fills it from worker threads.
    """

    def __init__(
        self, ttl_s: float = CACHE_TTL_S, max_entries: int = CACHE_MAX_ENTRIES, grace_s: float = 0.0
    ) -> None:
        if ttl_s < 0 or grace_s < 0:
            raise ValueError("cache TTL and outage grace must be >= 0 seconds")
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def digest(presented: str) -> bytes:
        return hashlib.sha256(presented.encode("utf-8")).digest()

    def _lookup(self, digest: bytes, until: Callable[[_Entry], float]) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry.usable_until <= now:
                del self._entries[digest]
                return None
            if until(entry) <= now:
                return None
            self._entries.move_to_end(digest)
            return entry.principal

    def get(self, digest: bytes) -> Principal | None:
        """The principal of a fresh entry (verified less than `ttl_s` ago), else None."""
        return self._lookup(digest, lambda entry: entry.fresh_until)

    def get_stale(self, digest: bytes) -> Principal | None:
        """The principal of a fresh or stale entry: only for when the store cannot answer."""
        return self._lookup(digest, lambda entry: entry.usable_until)

    def put(self, digest: bytes, principal: Principal, ttl_s: float | None = None) -> None:
        """Remember a verification; `ttl_s` is the key's remaining lifetime (None: no expiry)."""
        lifetime = math.inf if ttl_s is None else ttl_s
        fresh = min(lifetime, self.ttl_s)
        if fresh <= 0:
            self.discard(digest)
            return
        usable = max(fresh, min(lifetime, self.grace_s))
        now = time.monotonic()
        with self._lock:
            self._entries[digest] = _Entry(principal, now + fresh, now + usable)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def discard_key(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.principal.key_id == key_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
