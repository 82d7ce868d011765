"""Reading a team's file as a stream of record chunks, whatever its format.

Every reader yields the same thing, `RecordChunk`s of at most N records whose columns are
the file's own header names and whose values are as read (text for CSV/TSV/PDF, native
values for Parquet); mapping to the raw table's columns and validation happen later, the
same way for every format. A file that cannot be used at all raises `UnusableFile` with a
one-line reason a person can act on, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

FORMATS = ("csv", "tsv", "parquet", "pdf")


class UnusableFile(Exception):
    """The file as a whole cannot be imported (the message is one line, no internals)."""


@dataclass(frozen=True)
class RecordChunk:
    """Consecutive records of a file.

    `frame` has the file's header names as columns (stripped of surrounding whitespace and
    of a BOM); missing values are None/NaN. `index` holds each record's 1-based position
    in the file (int64), `labels` where a person finds it: "line 12" for CSV/TSV (the header
    is line 1), "row 7" for Parquet, "page 2 row 5" for PDF.
    """

    frame: pd.DataFrame
    index: np.ndarray
    labels: list[str]


class Source(Protocol):
    """An opened file: its format, its header, and its records in chunks."""

    format: str
    header: list[str]

    def chunks(self, rows: int) -> Iterator[RecordChunk]: ...


def open_source(path: Path, fmt: str | None = None) -> Source:
    """Open `path` as `fmt` (default: from the extension) and read its header."""
    from warehouse.importing.readers import open_reader

    return open_reader(path, fmt)
