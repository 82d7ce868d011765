"""The landing folder: files dropped into `<landing>/<table>/` are imported, then filed away.

Layout (created on first use):

    <landing>/customers/        drop CRM exports here
    <landing>/network_events/   call-detail records
    <landing>/revenue/          bills and statements
    <landing>/<table>/mapping.yml         optional: applied to every file of that folder
    <landing>/<table>/processed/<file>    imported (even with rejects), next to <file>.report.txt
    <landing>/<table>/failed/<file>       refused whole, next to <file>.report.txt saying why

A file is picked up once it has not changed for a few seconds (a half-copied file waits);
names starting with "." or ending in .part/.tmp/.crdownload are in-progress copies and are
left alone. Events and bills wait while customer files are pending, so a CRM export and
the call records of its new customers can be dropped together.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from warehouse.raw_schema import RAW_TABLE_NAMES

MAPPING_FILE = "mapping.yml"
PROCESSED = "processed"
FAILED = "failed"
_IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")
_NOT_DATA = {MAPPING_FILE, "mapping.yaml"}


@dataclass(frozen=True)
class LandedFile:
    path: Path
    table: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        """Identifies this version of the file: a re-dropped, changed file gets a new key."""
        return f"{self.table}/{self.path.name}:{self.size}:{self.mtime_ns}"

    @property
    def mapping(self) -> Path | None:
        for name in sorted(_NOT_DATA):
            candidate = self.path.parent / name
            if candidate.is_file():
                return candidate
        return None


def ensure_layout(landing: Path) -> None:
    for table in RAW_TABLE_NAMES:
        (landing / table).mkdir(parents=True, exist_ok=True)


def ready_files(landing: Path, settle_seconds: float, now: float | None = None) -> list[LandedFile]:
    """Files ready to import, customers first; events and bills wait while customers are pending."""
    now = time.time() if now is None else now
    found: dict[str, list[LandedFile]] = {table: [] for table in RAW_TABLE_NAMES}
    pending_customers = False
    for table in RAW_TABLE_NAMES:
        folder = landing / table
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name
            if not path.is_file() or name.startswith(".") or name.lower() in _NOT_DATA:
                continue
            if name.lower().endswith(_IN_PROGRESS_SUFFIXES) or name.endswith(".report.txt"):
                continue
            stat = path.stat()
            if table == "customers":
                pending_customers = True
            if now - stat.st_mtime < settle_seconds:
                continue
            found[table].append(LandedFile(path, table, stat.st_size, stat.st_mtime_ns))
    if pending_customers:
        return found["customers"]
    return [f for table in RAW_TABLE_NAMES for f in found[table]]


def file_away(path: Path, outcome: str, report: str) -> Path:
    """Move `path` into processed/ or failed/ beside it, with `<name>.report.txt`; never overwrite."""
    folder = path.parent / outcome
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    path.rename(target)
    target.with_name(target.name + ".report.txt").write_text(report.rstrip() + "\n", encoding="utf-8")
    return target
