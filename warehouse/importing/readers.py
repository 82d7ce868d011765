"""Choosing a reader for a file, and the rules every reader shares.

The format comes from the extension unless the person says otherwise, because a wrong guess
from the content (a `;` CSV read as one column, a PDF read as text) would produce records that
all fail validation for a reason nobody sees. The per-format readers live in their own modules
and are imported only when needed (pdfplumber and pyarrow are slow to import and most runs
read one format).

Shared here: the header checks (a file without a usable header cannot be mapped to the raw
table, so it is refused up front rather than producing a column of errors per record), the
`__extra_fields__` marker for records longer than the header, and how a chunk is assembled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.importing.source import FORMATS, RecordChunk, Source, UnusableFile

# Records with more fields than the header keep their surplus here (joined with the file's
# delimiter) instead of being cut silently or failing the whole file, so validation can reject
# exactly those records. The column exists only in chunks that hold at least one such record.
EXTRA_FIELDS_COLUMN = "__extra_fields__"

_EXTENSIONS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".pdf": "pdf",
}

_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")
_UUID = re.compile(r"\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}/\d{1,2}/\d{2,4}"
)


def format_of(path: Path, fmt: str | None) -> str:
    """The format to read `path` as: `fmt` when given (any extension), else from the extension."""
    if fmt is not None:
        chosen = fmt.strip().lower().lstrip(".")
        if chosen not in FORMATS:
            raise UnusableFile(f"unknown format {fmt!r}; pass --format {'|'.join(FORMATS)}")
        return chosen
    name = path.name.lower()
    for extension, found in sorted(_EXTENSIONS.items(), key=lambda item: -len(item[0])):
        if name.endswith(extension):
            return found
    raise UnusableFile(
        f"cannot tell the format of {path.name} from its extension; pass --format {'|'.join(FORMATS)}"
    )


def open_reader(path: Path, fmt: str | None) -> Source:
    """Open `path` for import and read its header eagerly.

    The header is read before returning so the caller can refuse a file whose columns do not
    match before reading any record. Every failure to read — missing file, wrong format,
    corrupt content, a library error — becomes `UnusableFile` with a one-line message naming
    the file's basename; `chunks()` of the returned source may raise `UnusableFile` too, for
    damage found only further into the file (the caller then discards what it staged).
    """
    path = Path(path)
    chosen = format_of(path, fmt)
    if not path.exists():
        raise UnusableFile(f"{path.name} does not exist")
    if not path.is_file():
        raise UnusableFile(f"{path.name} is not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UnusableFile(f"{path.name} cannot be opened ({exc.strerror or exc})") from None
    if chosen in ("csv", "tsv"):
        from warehouse.importing.csv_reader import CsvSource

        return CsvSource(path, chosen)
    if chosen == "parquet":
        from warehouse.importing.parquet_reader import ParquetSource

        return ParquetSource(path)
    from warehouse.importing.pdf_reader import PdfSource

    return PdfSource(path)


def looks_like_data(value: str) -> bool:
    """Whether a header cell is really a value (number, UUID, date), i.e. the header is missing."""
    text = value.strip()
    return bool(_NUMBER.fullmatch(text) or _UUID.fullmatch(text) or _DATE.fullmatch(text))


def check_header(name: str, cells: Sequence[str | None]) -> list[str]:
    """Validate and return a header's names (stripped), or refuse the file.

    Refused: no names at all, an empty name, a name used twice (the records could not be
    mapped unambiguously), the reserved `__extra_fields__`, and a first row whose every cell
    is a number, UUID or date — a file exported without its header row, whose first record
    would otherwise be taken as column names.
    """
    names = [(cell or "").replace("\ufeff", "").strip() for cell in cells]
    if not names or all(not n for n in names):
        raise UnusableFile(f"{name} has no recognisable header row (the first row is empty)")
    for position, header_name in enumerate(names, start=1):
        if not header_name:
            raise UnusableFile(
                f"{name} has no recognisable header row (column {position} has no name); "
                "the first row must name every column"
            )
    seen: set[str] = set()
    for header_name in names:
        if header_name in seen:
            raise UnusableFile(
                f"{name} has no recognisable header row (column {header_name!r} appears twice); "
                "the first row must name every column once"
            )
        seen.add(header_name)
    if EXTRA_FIELDS_COLUMN in seen:
        raise UnusableFile(f"{name} uses the reserved column name {EXTRA_FIELDS_COLUMN!r}; rename it")
    if all(looks_like_data(n) for n in names):
        raise UnusableFile(
            f"{name} has no recognisable header row (the first row holds values, not column names); "
            "add a header row naming the columns"
        )
    return names


def build_chunk(
    header: Sequence[str],
    records: list[list[str | None]],
    extras: list[str | None] | None,
    first_index: int,
    labels: list[str],
) -> RecordChunk:
    """Assemble text records into a chunk: object columns, None for missing values.

    `extras` (one entry per record) is added as `__extra_fields__` only when some record has
    surplus fields, so a clean file's frames have exactly the header's columns.
    """
    frame = pd.DataFrame(records, columns=list(header), dtype=object)
    if extras is not None and any(extra is not None for extra in extras):
        frame[EXTRA_FIELDS_COLUMN] = pd.Series(extras, dtype=object)
    index = np.arange(first_index, first_index + len(records), dtype=np.int64)
    return RecordChunk(frame=frame, index=index, labels=labels)


def check_chunk_size(rows: int) -> None:
    """Chunks of fewer than one record are a caller bug, not a file problem."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
