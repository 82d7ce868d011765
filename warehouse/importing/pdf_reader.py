"""Tables in text PDFs (billing statements, CDR exports), read page by page.

How a page's table is found: pdfplumber's ruled-line strategy first (`page.extract_table()`);
when that finds nothing, the text-alignment strategy, for statements whose columns are only
aligned text. pdfplumber's text strategy ends the last column at the right edge of the words
that define it, which cuts longer values in that column ("Roaming data" → "Roaming d"), so
its column starts are kept and the table is read again with the last column reaching the
rightmost word of the table.

Which rows are records: the header is the first row of the first table that fills the most
cells (titles and "Account: …" lines above it fill fewer). Dropped, never imported:

* rows above the header on the first table's page, and above the repeated header on later
  pages (titles, addresses);
* rows equal to the header (it is repeated on each page);
* empty rows;
* page footers ("Page 2 of 5", "Page 2") wherever the table reading puts them;
* when the header has two or more columns, rows with exactly one non-empty cell above the
  page's first or below its last row of two or more values: titles, notes, "Total: 12.30"
  lines. Such rows between data rows are kept (a record with a single value is more likely
  a real record whose other cells are empty, and validation reports it if it is not), so a
  section heading or, in unruled tables, the continuation line of a wrapped cell becomes
  a record that fails validation rather than a record silently lost.

Dropped rows other than empty rows and repeated headers are listed in `skipped` (with their
page) as they are met, for the import report. Rows with two or more values, such as
"Total | 123.45", are kept: validation rejects them visibly, which is safer than guessing.

Values are text with line breaks and runs of spaces collapsed to one space (wrapping inside a
cell is layout, not content); empty cells are None. A scanned PDF (no page has any text) is
refused: OCR is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pdfplumber

from warehouse.importing.readers import build_chunk, check_chunk_size, check_header
from warehouse.importing.source import RecordChunk, UnusableFile

_TEXT_SETTINGS = {"vertical_strategy": "text", "horizontal_strategy": "text"}
# "Page 2", "Page 2 of 5", "Seite 2 von 5", "p. 2/5". A bare "2/5" is not matched anywhere
# (it could be a value); as a lone cell below the data it is dropped by the single-value rule.
_FOOTER = re.compile(r"(page|p\.|seite|página|pagina)\s*\d+(\s*(of|/|sur|von|de|di)\s*\d+)?", re.IGNORECASE)

Row = list[str | None]


class PdfSource:
    """A PDF whose first table's header has been found; records are read page by page.

    `skipped` lists the rows the last `chunks()` run dropped ("page 3: Total: 16.49") and the
    pages it could not use ("page 4: no text (an image-only page)"), for the import report.
    """

    format = "pdf"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.skipped: list[str] = []
        header_cells: Row | None = None
        has_text = False
        with self._open() as pdf:
            for number, page in self._pages(pdf):
                has_text = has_text or self._has_text(page, number)
                table = self._table(page, number)
                if table:
                    header_cells = table[_header_position(table)]
                    self._header_page = number
                    break
        if header_cells is None:
            if not has_text:
                raise UnusableFile(
                    f"{self.name} has no text layer (a scanned image?); OCR is not supported — "
                    "export the statement as text PDF, CSV or Parquet"
                )
            raise UnusableFile(
                f"{self.name} has text but no table found on any page; export the records as CSV or Parquet"
            )
        while len(header_cells) > 1 and header_cells[-1] is None:
            header_cells = header_cells[:-1]
        self.header = check_header(self.name, header_cells)

    def chunks(self, rows: int) -> Iterator[RecordChunk]:
        """Records in chunks of at most `rows`, one page's table in memory at a time."""
        check_chunk_size(rows)
        self.skipped = []
        width = len(self.header)
        records: list[Row] = []
        extras: list[str | None] = []
        labels: list[str] = []
        count = 0
        with self._open() as pdf:
            for number, page in self._pages(pdf):
                if number < self._header_page:
                    continue
                if not self._has_text(page, number):
                    self.skipped.append(f"page {number}: no text (an image-only page)")
                    page.close()
                    continue
                table = self._table(page, number)
                if not table:
                    self.skipped.append(f"page {number}: no table")
                    continue
                for position, row in enumerate(self._records(table, number), start=1):
                    extra = None
                    if len(row) > width:
                        surplus = [cell for cell in row[width:] if cell is not None]
                        extra = " ".join(surplus) if surplus else None
                        row = row[:width]
                    elif len(row) < width:
                        row = row + [None] * (width - len(row))
                    count += 1
                    records.append(row)
                    extras.append(extra)
                    labels.append(f"page {number} row {position}")
                    if len(records) == rows:
                        yield build_chunk(self.header, records, extras, count - len(records) + 1, labels)
                        records, extras, labels = [], [], []
        if records:
            yield build_chunk(self.header, records, extras, count - len(records) + 1, labels)

    # -- pages -----------------------------------------------------------------------------

    def _open(self) -> Any:
        try:
            return pdfplumber.open(self.path)
        except Exception as exc:  # pdfminer raises many types for junk, encrypted or cut files
            raise UnusableFile(f"{self.name} is not a readable PDF file ({_pdf_reason(exc)})") from None

    def _pages(self, pdf: Any) -> Iterator[tuple[int, Any]]:
        try:
            pages = pdf.pages
        except Exception as exc:
            raise UnusableFile(f"{self.name} is not a readable PDF file ({_pdf_reason(exc)})") from None
        yield from enumerate(pages, start=1)

    def _has_text(self, page: Any, number: int) -> bool:
        try:
            return bool(page.chars)
        except Exception as exc:
            page.close()
            raise UnusableFile(f"{self.name} page {number} cannot be read ({_pdf_reason(exc)})") from None

    def _table(self, page: Any, number: int) -> list[Row] | None:
        """The page's table as cleaned rows, or None; the page's parsed layout is then freed."""
        try:
            table = page.extract_table()
            if not _has_values(table):
                table = _aligned_table(page)
        except Exception as exc:
            raise UnusableFile(f"{self.name} page {number} cannot be read ({_pdf_reason(exc)})") from None
        finally:
            page.close()
        if not _has_values(table):
            return None
        return [[_clean(cell) for cell in row] for row in table]

    def _records(self, table: list[Row], number: int) -> Iterator[Row]:
        """The page's data rows, dropping titles, repeated headers and footers (see module doc)."""
        if number == self._header_page:
            header_at: int | None = _header_position(table)
        else:
            header_at = next((i for i, row in enumerate(table) if _same_as(row, self.header)), None)
        body = table
        if header_at is not None:
            for row in table[:header_at]:
                self._skip(row, number)
            body = table[header_at + 1 :]
        filled = [sum(cell is not None for cell in row) for row in body]
        full = [i for i, n in enumerate(filled) if n >= 2]
        first, last = (full[0], full[-1]) if full else (len(body), -1)
        for i, row in enumerate(body):
            if not filled[i] or _same_as(row, self.header):
                continue
            text = " ".join(cell for cell in row if cell is not None)
            footer = bool(_FOOTER.fullmatch(text))
            outside = filled[i] == 1 and len(self.header) > 1 and not first <= i <= last
            if footer or outside:
                self._skip(row, number)
            else:
                yield row

    def _skip(self, row: Row, number: int) -> None:
        text = " ".join(cell for cell in row if cell is not None)
        if text and not _same_as(row, self.header):
            self.skipped.append(f"page {number}: {text}")


def _aligned_table(page: Any) -> list[list[Any]] | None:
    """A table of aligned text without ruling, its last column widened to its longest value.

    At least two columns are required: left-aligned prose has one aligned edge and would
    otherwise read as a one-column table whose "header" is its first sentence.
    """
    found = page.debug_tablefinder(_TEXT_SETTINGS).tables
    if not found:
        return None
    table = max(found, key=lambda t: len(t.cells))
    _, top, x1, bottom = table.bbox
    band = page.crop((page.bbox[0], top, page.bbox[2], bottom), strict=False)
    words = band.extract_words()
    right = max([x1, *(word["x1"] for word in words)]) + 1
    starts = sorted({round(cell[0], 3) for cell in table.cells})
    if len(starts) < 2:
        return None  # one column of aligned text is a paragraph, not a table
    settings = {
        "vertical_strategy": "explicit",
        "explicit_vertical_lines": [*starts, right],
        "horizontal_strategy": "text",
    }
    return band.extract_table(settings)


def _header_position(table: Sequence[Row]) -> int:
    """The first row filling the most cells: titles above the header fill fewer."""
    most = max(sum(cell is not None for cell in row) for row in table)
    return next(i for i, row in enumerate(table) if sum(cell is not None for cell in row) == most)


def _same_as(row: Row, header: Sequence[str]) -> bool:
    cells = [cell or "" for cell in row]
    if len(cells) < len(header) or any(cells[len(header) :]):
        return False
    return cells[: len(header)] == list(header)


def _has_values(table: list[list[Any]] | None) -> bool:
    return bool(table) and any(_clean(cell) is not None for row in table for cell in row)


def _clean(cell: object) -> str | None:
    if cell is None:
        return None
    text = " ".join(str(cell).split())
    return text or None


def _pdf_reason(exc: BaseException) -> str:
    """A short reason from pdfminer's errors (pdfplumber wraps them in PdfminerException)."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    kind = type(inner).__name__
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    if "Password" in kind or "password" in text.lower() or "Encrypt" in kind:
        return "it is password-protected; export it without a password"
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    if not text or len(text) > 120:
        return f"{kind}: the file is damaged or not a PDF"
    return text
