"""Fernet encryption of session data at rest (Redis values and the PostgreSQL archive).

Keys come from TELCOPULSE_FERNET_KEYS (comma-separated, newest first, so a key can be
rotated without losing data written under the previous one) or, for a zero-config local
setup, from a key file generated once under the data directory. Key material is never
logged nor put into an exception message.
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mcp_server.security.private_files import refuse_shared, temp_sibling
from mcp_server.security.private_files import write_exclusive as _write_exclusive
from warehouse.settings import Settings

log = logging.getLogger(__name__)

KEYS_VARIABLE = "TELCOPULSE_FERNET_KEYS"
GENERATE_HINT = (
    'generate one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)
# A process that lost the creation race may open the file before the winner has written
# it on filesystems without hard links (see _publish); it waits this long for the bytes.
_EMPTY_FILE_WAIT_S = 2.0


class CryptoError(RuntimeError):
    """Stored data cannot be decrypted: the key it was written with is no longer configured."""


def parse_keys(text: str, *, source: str) -> MultiFernet:
    """Build a MultiFernet (first key encrypts, all decrypt) from comma/newline separated keys."""
    entries = [part.strip() for part in text.replace("\n", ",").split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise RuntimeError(f"{source} holds no Fernet key; {GENERATE_HINT}")
    fernets: list[Fernet] = []
    for position, entry in enumerate(entries, start=1):
        try:
            fernets.append(Fernet(entry.encode("ascii")))
        except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
            # `from None`: the cryptography error text can quote the key material.
            raise RuntimeError(
                f"{source}: key #{position} is not a valid Fernet key "
                f"(32 url-safe base64-encoded bytes); {GENERATE_HINT}"
            ) from None
    return MultiFernet(fernets)


def load_fernet(settings: Settings) -> MultiFernet:
    """The configured keys, or the generated key file when none are configured."""
    if settings.fernet_keys is not None and settings.fernet_keys.get_secret_value().strip():
        return parse_keys(settings.fernet_keys.get_secret_value(), source=KEYS_VARIABLE)
    path = settings.fernet_key_file
    return parse_keys(_read_or_create_key_file(path), source=str(path))


def _read_or_create_key_file(path: Path) -> str:
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key() + b"\n"
    if _publish(path, key):
        log.info("generated a new Fernet key for session data in %s (mode 0600)", path)
    # Winner or loser of a creation race, everyone uses what is on disk now.
    return _read_key_file(path)


def _publish(path: Path, content: bytes) -> bool:
    """Create `path` with `content`, mode 0600, unless it exists; True if this call created it.

    The key is written completely into a private temporary file first and then hard-linked
    into place, so a concurrent reader never sees a half-written key and exactly one of
    several processes starting at once wins (link fails with EEXIST for the others).
    """
    tmp = temp_sibling(path)
    _write_exclusive(tmp, content)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this filesystem: create the final name exclusively instead.
        try:
            _write_exclusive(path, content)
            return True
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)


def _read_key_file(path: Path) -> str:
    deadline = time.monotonic() + _EMPTY_FILE_WAIT_S
    while True:
        fd = os.open(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            refuse_shared(path, os.fstat(handle.fileno()).st_mode, "Fernet key file", RuntimeError)
            text = handle.read().decode("ascii", errors="replace")
        if text.strip() or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; raises TypeError/ValueError for values JSON cannot represent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encrypt_json(fernet: MultiFernet | Fernet, value: Any) -> str:
    return encrypt_bytes(fernet, dump_json(value))


def encrypt_bytes(fernet: MultiFernet | Fernet, plaintext: bytes) -> str:
    return fernet.encrypt(plaintext).decode("ascii")


def decrypt_json(fernet: MultiFernet | Fernet, token: str | bytes) -> Any:
    raw = token.encode("ascii") if isinstance(token, str) else token
    try:
        plaintext = fernet.decrypt(raw)
    except InvalidToken:
        raise CryptoError(
            "stored data cannot be decrypted: it was encrypted with a Fernet key that is no longer "
            f"configured (or it is damaged); put the previous key after the current one in {KEYS_VARIABLE}"
        ) from None
    try:
        return json.loads(plaintext)
    except ValueError:
        raise CryptoError("stored data decrypted but is not valid JSON; it is damaged") from None
