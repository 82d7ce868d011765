"""API keys in a JSON-lines file, for deployments without a database of their own."""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from mcp_server.security.api_keys.cache import CACHE_TTL_S
from mcp_server.security.api_keys.records import KeyRecord, utcnow
from mcp_server.security.api_keys.store import OUTAGE_GRACE_S, KeyStore, KeyStoreError
from mcp_server.security.identity import is_key_id
from mcp_server.security.private_files import refuse_shared, temp_sibling, write_exclusive


class FileKeyStore(KeyStore):
    """Keys in a JSON-lines file (one record per line), for deployments without PostgreSQL.

    The file is written atomically (temp file + os.replace) with mode 0600 and re-read
    when it changes, so a key created or revoked by the CLI reaches a running server
    without a restart. It refuses to read a file group/others can access. Usage time
    (last_used_at) is not recorded: the file is often a read-only mounted secret, and
    several server processes rewriting it would race.
    """

    def __init__(
        self, path: Path | str, *, cache_ttl_s: float = CACHE_TTL_S, outage_grace_s: float = OUTAGE_GRACE_S
    ) -> None:
        super().__init__(cache_ttl_s=cache_ttl_s, outage_grace_s=outage_grace_s)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._loaded_signature: tuple[int, int, int] | None = None
        self._records: dict[str, KeyRecord] = {}

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.path)!r})"

    # -- reading
    def _load(self) -> dict[str, KeyRecord]:
        """Current records, re-parsed only when the file's inode/size/mtime changed."""
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                self._loaded_signature, self._records = None, {}
                return {}
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(handle.fileno())
                refuse_shared(self.path, info.st_mode, "API key file", KeyStoreError)
                signature = (info.st_ino, info.st_size, info.st_mtime_ns)
                if signature != self._loaded_signature:
                    self._records = self._parse(handle.read())
                    self._loaded_signature = signature
            return dict(self._records)

    def _parse(self, raw: bytes) -> dict[str, KeyRecord]:
        records: dict[str, KeyRecord] = {}
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = KeyRecord.model_validate_json(line)
            except ValidationError:
                # No line content in the message: it holds hashes, and the error may end up in logs.
                raise KeyStoreError(
                    f"API key file {self.path}: line {number} is not a valid key record"
                ) from None
            if record.key_id in records:
                raise KeyStoreError(f"API key file {self.path}: key id {record.key_id} appears twice")
            records[record.key_id] = record
        return records

    def get(self, key_id: str) -> KeyRecord | None:
        if not is_key_id(key_id):
            return None
        return self._load().get(key_id)

    def list(self) -> builtins.list[KeyRecord]:
        return sorted(self._load().values(), key=lambda r: (r.created_at, r.key_id))

    # -- writing
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-modify-write cycles of concurrent CLI runs (POSIX advisory lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            import fcntl
        except ImportError:  # not POSIX: single-writer assumption
            yield
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, records: dict[str, KeyRecord]) -> None:
        payload = "".join(
            json.dumps(record.model_dump(mode="json"), separators=(",", ":")) + "\n"
            for record in sorted(records.values(), key=lambda r: (r.created_at, r.key_id))
        ).encode("utf-8")
        tmp = temp_sibling(self.path)
        try:
            write_exclusive(tmp, payload)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with contextlib.suppress(OSError):  # durability of the rename; not possible everywhere
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _insert(self, record: KeyRecord) -> KeyRecord | None:
        with self._exclusive():
            records = self._load()
            if record.key_id in records:
                return None
            records[record.key_id] = record
            self._write(records)
        return record

    def _mark_revoked(self, key_id: str) -> bool:
        with self._exclusive():
            records = self._load()
            record = records.get(key_id)
            if record is None:
                return False
            if record.revoked_at is None:
                records[key_id] = record.model_copy(update={"revoked_at": utcnow()})
                self._write(records)
        return True
