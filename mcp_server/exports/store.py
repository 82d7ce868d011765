"""Where exports live until they expire: a private folder, one file and one JSON record each.

`exports://<id>` is readable by the principal that made it (same key) and nobody else: another
caller gets the same NotFound as for an id that never existed, so ids cannot be probed. Expired
exports are deleted when they are next looked at and by `sweep()` (run on every new export).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mcp_server.errors import NotFound
from mcp_server.exports.writers import MIME_TYPES

EXPORT_SCHEME = "exports://"
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    owner: str  # the principal's key id ("stdio" for the local user)
    format: str
    file_name: str
    rows: int
    bytes: int
    sha256: str
    created_at: float
    expires_at: float

    @property
    def uri(self) -> str:
        return EXPORT_SCHEME + self.export_id

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    def expires_iso(self) -> str:
        return dt.datetime.fromtimestamp(self.expires_at, dt.UTC).isoformat()


class ExportStore:
    def __init__(self, folder: Path, ttl_s: float) -> None:
        self.folder = folder
        self.ttl_s = ttl_s

    def new_id(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return secrets.token_hex(12)

    def partial_path(self, export_id: str, fmt: str) -> Path:
        """Where the file is written; renamed into place only once complete."""
        return self.folder / f".{export_id}.{fmt}.partial"

    def finish(self, record: ExportRecord, partial: Path) -> None:
        os.replace(partial, self.folder / record.file_name)
        meta = self.folder / f"{record.export_id}.json"
        meta.write_text(json.dumps(asdict(record)))

    def get(self, export_id: str, owner: str) -> tuple[ExportRecord, Path]:
        missing = NotFound(
            f"no export {export_id!r} for you (exports expire after {self.ttl_s:g} s)",
            hint="run export_result again",
        )
        if not export_id or set(export_id) - _ID_CHARS:
            raise missing
        meta = self.folder / f"{export_id}.json"
        try:
            record = ExportRecord(**json.loads(meta.read_text()))
        except (OSError, ValueError, TypeError):
            raise missing from None
        if record.owner != owner:
            raise missing
        if record.expires_at <= time.time():
            self._delete(record)
            raise missing
        return record, self.folder / record.file_name

    def sweep(self) -> int:
        """Delete every expired export and abandoned partial file; how many were removed."""
        if not self.folder.exists():
            return 0
        removed = 0
        now = time.time()
        for meta in self.folder.glob("*.json"):
            try:
                record = ExportRecord(**json.loads(meta.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if record.expires_at <= now:
                self._delete(record)
                removed += 1
        for partial in self.folder.glob(".*.partial"):
            if partial.stat().st_mtime < now - max(self.ttl_s, 3600):
                partial.unlink(missing_ok=True)
                removed += 1
        return removed

    def _delete(self, record: ExportRecord) -> None:
        (self.folder / record.file_name).unlink(missing_ok=True)
        (self.folder / f"{record.export_id}.json").unlink(missing_ok=True)
