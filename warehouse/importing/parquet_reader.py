"""Parquet files, read one record batch at a time.

Values keep their Parquet types (timestamps, floats, booleans, strings) because the file
already says what they are; turning them into text and parsing them back would lose time
zones and precision. The footer (schema, row groups) is read when the file is opened, so a
truncated or foreign file is refused before any record is read; a row group damaged further in
is only found while decoding it, and is refused from `chunks()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.importing.readers import check_chunk_size
from warehouse.importing.source import RecordChunk, UnusableFile


class ParquetSource:
    """A Parquet file whose schema has been read; records are decoded batch by batch."""

    format = "parquet"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        try:
            self._file = pq.ParquetFile(path)
            names = list(self._file.schema_arrow.names)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, and more for junk
            raise self._unreadable(exc) from None
        header = [str(n).strip() for n in names]
        if not header or not all(header):
            raise UnusableFile(f"{self.name} has a column without a name; name every column and export again")
        if len(set(header)) != len(header):
            duplicate = next(n for n in header if header.count(n) > 1)
            raise UnusableFile(f"{self.name} has the column {duplicate!r} twice; name every column once")
        self._names = names
        self.header = header

    def chunks(self, rows: int) -> Iterator[RecordChunk]:
        """Records in chunks of at most `rows`, labelled "row N" (1-based over the whole file)."""
        check_chunk_size(rows)
        position = 0
        batches = self._file.iter_batches(batch_size=rows, columns=self._names)
        while True:
            try:
                batch = next(batches)
                frame = batch.to_pandas()
            except StopIteration:
                return
            except Exception as exc:  # a damaged row group surfaces only when decoded
                raise self._unreadable(exc, at=position + 1) from None
            if batch.num_rows == 0:
                continue
            frame.columns = self.header
            index = np.arange(position + 1, position + batch.num_rows + 1, dtype=np.int64)
            position += batch.num_rows
            yield RecordChunk(frame=frame, index=index, labels=[f"row {i}" for i in index])

    def _unreadable(self, exc: Exception, at: int | None = None) -> UnusableFile:
        where = f" from row {at} on" if at is not None else ""
        return UnusableFile(
            f"{self.name} is not a readable Parquet file{where} ({_short_reason(exc)}); export it again"
        )


def _short_reason(exc: Exception) -> str:
    """One human line from pyarrow's message (which can span lines and name C++ sources)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "magic bytes not found" in lowered or "size is 0 bytes" in lowered:
        return "no Parquet footer: the file is truncated or not Parquet"
    if isinstance(exc, OSError) and getattr(exc, "strerror", None):
        return str(exc.strerror)
    if isinstance(exc, pa.ArrowException) and len(text) > 120:
        return text[:117] + "..."
    return text
