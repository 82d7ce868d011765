"""Where exports live until they expire: a private folder, or an S3-compatible bucket when configured.

Either way one file and one JSON record per export. `exports://<id>` is readable by the
principal that made it (same key) and nobody else: another caller gets the same NotFound as for
an id that never existed, so ids cannot be probed. Expired exports are deleted when they are
next looked at and by `sweep()` (run on every new export). Files are written to a local staging
file first (Parquet and XLSX writers need a seekable file) and only then moved into place or
uploaded, so a refused or failed export leaves nothing behind.

The bucket store (`TELCOPULSE_EXPORT_BUCKET=s3://bucket/prefix`, `_S3_ENDPOINT` for MinIO, Ceph,
R2...) lets every replica read every export; credentials come from the standard AWS variables
or config files, never from telcopulse's settings.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp_server.errors import NotFound, Unavailable
from mcp_server.exports.writers import MIME_TYPES
from warehouse.settings import Settings

EXPORT_SCHEME = "exports://"
_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")
PRESIGNED_LINK_S = 60  # a download redirect only has to survive the redirect


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

    @property
    def download_name(self) -> str:
        """The file name a person's download gets."""
        return f"export-{self.export_id}.{self.format}"

    def expires_iso(self) -> str:
        return dt.datetime.fromtimestamp(self.expires_at, dt.UTC).isoformat()


class ExportStore(abc.ABC):
    """What `export_result`, `exports://<id>` and the download route need from a place to keep files."""

    def __init__(self, staging: Path, ttl_s: float) -> None:
        self.staging = staging
        self.ttl_s = ttl_s

    def new_id(self) -> str:
        self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        return secrets.token_hex(12)

    def partial_path(self, export_id: str, fmt: str) -> Path:
        """Where the file is written; moved into place (or uploaded) only once complete."""
        return self.staging / f".{export_id}.{fmt}.partial"

    def get(self, export_id: str, owner: str) -> ExportRecord:
        missing = NotFound(
            f"no export {export_id!r} for you (exports expire after {self.ttl_s:g} s)",
            hint="run export_result again",
        )
        if not export_id or set(export_id) - _ID_CHARS:
            raise missing
        record = self._load(export_id)
        if record is None or record.owner != owner:
            raise missing
        if record.expires_at <= time.time():
            self._delete(record)
            raise missing
        return record

    def sweep(self) -> int:
        """Delete every expired export and abandoned staging file; how many were removed."""
        removed = self._sweep_expired()
        if self.staging.exists():
            cutoff = time.time() - max(self.ttl_s, 3600)
            for partial in self.staging.glob(".*.partial"):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink(missing_ok=True)
                    removed += 1
        return removed

    @abc.abstractmethod
    def finish(self, record: ExportRecord, partial: Path) -> None:
        """Keep the complete file and its record (the staging file is gone after)."""

    @abc.abstractmethod
    def read_bytes(self, record: ExportRecord) -> bytes: ...

    @abc.abstractmethod
    def download_target(self, record: ExportRecord) -> Path | str:
        """A local file to send, or a short-lived URL to redirect the browser to."""

    @abc.abstractmethod
    def _load(self, export_id: str) -> ExportRecord | None: ...

    @abc.abstractmethod
    def _delete(self, record: ExportRecord) -> None: ...

    @abc.abstractmethod
    def _sweep_expired(self) -> int: ...


def _parse_record(text: str | bytes) -> ExportRecord | None:
    try:
        return ExportRecord(**json.loads(text))
    except (ValueError, TypeError):
        return None


class FolderExportStore(ExportStore):
    """Files in one private folder (mode 0700) on this machine, or a volume the replicas share."""

    def finish(self, record: ExportRecord, partial: Path) -> None:
        os.replace(partial, self.staging / record.file_name)
        (self.staging / f"{record.export_id}.json").write_text(json.dumps(asdict(record)))

    def read_bytes(self, record: ExportRecord) -> bytes:
        return (self.staging / record.file_name).read_bytes()

    def download_target(self, record: ExportRecord) -> Path:
        return self.staging / record.file_name

    def _load(self, export_id: str) -> ExportRecord | None:
        try:
            return _parse_record((self.staging / f"{export_id}.json").read_text())
        except OSError:
            return None

    def _delete(self, record: ExportRecord) -> None:
        (self.staging / record.file_name).unlink(missing_ok=True)
        (self.staging / f"{record.export_id}.json").unlink(missing_ok=True)

    def _sweep_expired(self) -> int:
        if not self.staging.exists():
            return 0
        removed = 0
        now = time.time()
        for meta in self.staging.glob("*.json"):
            try:
                record = _parse_record(meta.read_text())
            except OSError:
                continue
            if record is not None and record.expires_at <= now:
                self._delete(record)
                removed += 1
        return removed


class BucketExportStore(ExportStore):
    """Files in an S3-compatible bucket under a prefix, staged locally while they are written."""

    def __init__(self, client: Any, bucket: str, prefix: str, staging: Path, ttl_s: float) -> None:
        super().__init__(staging, ttl_s)
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def finish(self, record: ExportRecord, partial: Path) -> None:
        with self._outage():
            self._client.upload_file(
                str(partial),
                self.bucket,
                self._key(record.file_name),
                ExtraArgs={"ContentType": record.mime_type},
            )
            self._client.put_object(
                Bucket=self.bucket,
                Key=self._key(f"{record.export_id}.json"),
                Body=json.dumps(asdict(record)).encode(),
                ContentType="application/json",
            )
        partial.unlink(missing_ok=True)

    def read_bytes(self, record: ExportRecord) -> bytes:
        with self._outage():
            return self._client.get_object(Bucket=self.bucket, Key=self._key(record.file_name))["Body"].read()

    def download_target(self, record: ExportRecord) -> str:
        with self._outage():
            return self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(record.file_name),
                    "ResponseContentType": record.mime_type,
                    "ResponseContentDisposition": f'attachment; filename="{record.download_name}"',
                },
                ExpiresIn=PRESIGNED_LINK_S,
            )

    def _load(self, export_id: str) -> ExportRecord | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(f"{export_id}.json"))["Body"]
            return _parse_record(body.read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._unavailable() from None
        except BotoCoreError:
            raise self._unavailable() from None

    def _delete(self, record: ExportRecord) -> None:
        with self._outage():
            self._client.delete_objects(
                Bucket=self.bucket,
                Delete={
                    "Objects": [
                        {"Key": self._key(record.file_name)},
                        {"Key": self._key(f"{record.export_id}.json")},
                    ]
                },
            )

    def _sweep_expired(self) -> int:
        """Records older than the TTL, found by their upload time: one listing, no read per export.

        A bucket lifecycle rule (expire objects under the prefix after a day) is the backstop for
        exports no server lives to sweep."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.ttl_s)
        removed = 0
        with self._outage():
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key("")
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if name.endswith(".json") and item["LastModified"] <= cutoff:
                        record = self._load(name[: -len(".json")])
                        if record is not None and record.expires_at <= time.time():
                            self._delete(record)
                            removed += 1
        return removed

    def _unavailable(self) -> Unavailable:
        return Unavailable(
            f"the export bucket {self.bucket!r} cannot be reached right now",
            hint="retry in a minute; an operator checks TELCOPULSE_EXPORT_BUCKET, _S3_ENDPOINT and "
            "the credentials",
        )

    @contextlib.contextmanager
    def _outage(self) -> Iterator[None]:
        """A bucket that cannot be reached (network, credentials, permissions) answers Unavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError):
            raise self._unavailable() from None


def open_export_store(settings: Settings) -> ExportStore:
    """The folder store, or the bucket store when `TELCOPULSE_EXPORT_BUCKET` names one."""
    if not settings.export_bucket:
        return FolderExportStore(settings.exports_folder, settings.export_ttl)
    import boto3  # only deployments with a bucket pay its import

    location = urlsplit(settings.export_bucket)
    session = boto3.session.Session()
    client = session.client(
        "s3", endpoint_url=settings.export_s3_endpoint, region_name=session.region_name or "us-east-1"
    )
    return BucketExportStore(
        client, location.netloc, location.path, settings.exports_folder, settings.export_ttl
    )
