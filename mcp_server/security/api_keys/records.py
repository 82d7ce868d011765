"""A stored API key and how its secret is hashed.

The store keeps a random 16-byte salt and `scrypt(secret, salt)`, never the key, so a leaked
store does not let anyone authenticate and brute force costs a memory-hard hash per guess.
What a key looks like (and how one is parsed) is an identity fact: `security/identity.py`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mcp_server.security.identity import KEY_ID_PATTERN, ROLES, Principal, Role

MAX_NAME_LENGTH = 200

# scrypt cost: N=2^14, r=8 -> 16 MiB and ~30-50 ms per hash (OWASP's floor for scrypt).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16

# Unknown key ids are still hashed once, against this salt, so response time does not
# tell an attacker whether a key id exists.
DUMMY_SALT = bytes(SALT_BYTES)
DUMMY_HASH = bytes(SCRYPT_DKLEN)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KeyRecord(BaseModel):
    """One stored key. Holds the salt and hash, never the key; salt/hash stay out of repr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=f"^{KEY_ID_PATTERN}$")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    role: Role
    salt: str = Field(pattern=rf"^[0-9a-f]{{{2 * SALT_BYTES}}}$", repr=False)
    hash: str = Field(pattern=rf"^[0-9a-f]{{{2 * SCRYPT_DKLEN}}}$", repr=False)
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    last_used_at: AwareDatetime | None = None

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def is_active(self, now: dt.datetime | None = None) -> bool:
        return self.revoked_at is None and not self.is_expired(now)

    @property
    def principal(self) -> Principal:
        return Principal(key_id=self.key_id, name=self.name, role=self.role)


def hash_secret(secret: str, salt: bytes) -> bytes:
    """scrypt of the secret; looked up through `hashlib` at call time so tests can spy on it."""
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN
    )


def check_create_arguments(name: str, role: str, expires_at: dt.datetime | None) -> str:
    """The cleaned name, after refusing what would make an unusable or misleading record."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise ValueError(
            f"key name must be 1-{MAX_NAME_LENGTH} printable characters, no tabs or newlines "
            "(it appears in logs and tables)"
        )
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware (UTC)")
        if expires_at <= utcnow():
            raise ValueError("expires_at is in the past: the key would never be valid")
    return name


def lifetime_after_rotation(old: KeyRecord) -> dt.datetime | None:
    """A rotated key keeps its predecessor's lifetime policy (not its deadline)."""
    if old.expires_at is None:
        return None
    return utcnow() + max(old.expires_at - old.created_at, dt.timedelta(minutes=1))
