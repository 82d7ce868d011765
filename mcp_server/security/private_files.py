"""Files that hold secrets (the Fernet key file, the API key file): 0600, or refused.

Why one module: both files obey the same rule — created with mode 0600 from their first
byte (never chmod-ed afterwards, which leaves a window), written completely before they
appear under their real name, and never read while group/others can access them. The
rule had been written twice (crypto.py, the API key file store); a fix to one copy would
have missed the other.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def temp_sibling(path: Path) -> Path:
    """A unique hidden name next to `path`: same filesystem, so link/rename into place is atomic."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_exclusive(path: Path, content: bytes) -> None:
    """Create `path` (FileExistsError if it exists) with mode 0600 and `content`, synced to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def refuse_shared(path: Path, mode: int, what: str, error: type[Exception]) -> None:
    """Raise `error` when group/others may access the file (`mode` from fstat of the open file).

    Checked on the open descriptor, not the path, so the file cannot be swapped in between.
    The message says how to fix it; `what` names the file ("API key file", ...).
    """
    if os.name == "posix" and mode & 0o077:
        raise error(
            f"{what} {path} is accessible by group/others "
            f"(mode {stat.filemode(mode)}); restrict it with: chmod 600 {path}"
        )
