"""Deterministic UUIDs and per-ID pseudo-random numbers, vectorised.

UUIDs come from the block's RNG (never `uuid4()`), so a seed reproduces every key.
`hash_uniforms` turns a customer_id into stable uniforms: the customer's latent traits
are a pure function of its ID, so `append_day` can continue a persona without any
hidden state being stored in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DASH_POSITIONS = (8, 13, 18, 23)
_HEX_POSITIONS = np.array([i for i in range(36) if i not in _DASH_POSITIONS])


def random_uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n version-4 UUIDs as an (n, 16) uint8 array, drawn from `rng`."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def uuid_strings(raw: np.ndarray) -> np.ndarray:
    """Canonical 36-character text of (n, 16) UUID bytes, without a per-row Python loop."""
    n = raw.shape[0]
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _HEX_POSITIONS] = chars
    return out.view("S36").ravel().astype(str)


def uuid_bytes_from(values: Sequence[uuid.UUID]) -> np.ndarray:
    """(n, 16) bytes of UUIDs read back from PostgreSQL."""
    if not values:
        return np.empty((0, 16), dtype=np.uint8)
    return np.frombuffer(b"".join(v.bytes for v in values), dtype=np.uint8).reshape(-1, 16)


def _mix64(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser; uint64 arithmetic wraps, which is the point.
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash_uniforms(raw: np.ndarray, count: int) -> np.ndarray:
    """(n, count) uniforms in (0, 1), a stable function of each UUID's bytes."""
    words = raw.view(">u8").astype(np.uint64)  # (n, 2), endianness fixed for portability
    key = _mix64(words[:, 0] ^ _mix64(words[:, 1] + np.uint64(_GOLDEN)))
    out = np.empty((raw.shape[0], count))
    for k in range(count):
        z = _mix64(key + np.uint64((_GOLDEN * (k + 1)) & _MASK64))
        out[:, k] = ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return out
