"""CSV and TSV files, streamed in bounded chunks.

Decisions, and why:

* Encoding. UTF-8 with or without a BOM (the BOM is dropped), and UTF-16 only when the file
  starts with a UTF-16 BOM (what Excel's "Unicode text" writes). Anything else is refused
  naming the first offending byte: Windows-1252/Latin-1 cannot be told apart from other
  8-bit encodings reliably (every byte is valid in all of them), and guessing wrong would
  store mangled names and numbers that nobody notices. The whole file is decoded once when it
  is opened (a streaming pass, bounded memory) so a wrong encoding is refused before any
  record is read, not after half the file was staged.
* Binary content (NUL bytes, many control characters, a spreadsheet or PDF renamed to .csv)
  is refused as "not a text file" rather than as a wrong encoding, because the fix differs.
* Delimiter. `,` for csv and TAB for tsv; for csv the header line is sniffed, and if it holds
  more `;` or TABs than commas (outside quotes) that delimiter is used — European CRM exports
  write `;` because `,` is their decimal separator. Quoting is RFC 4180 (quoted delimiters,
  doubled quotes, newlines inside quotes); broken quoting (text after a closing quote, a quote
  that is never closed) is refused naming the record rather than guessed at.
* Records. Values are text, exactly as written; empty fields are None. Blank lines and rows
  whose every field is empty (`,,,,` left by spreadsheets) are skipped and not counted. A
  record with more fields than the header keeps the surplus, joined with the delimiter, in
  `__extra_fields__` (only when a surplus field is non-empty, so trailing delimiters are
  harmless); missing trailing fields are None. Empty trailing header names (`a,b,c,,`) are
  ignored for the same reason.
* Labels. The k-th record (1-based, skipped rows not counted) is "line k+1", the header being
  line 1. This is the physical line only when no quoted field spans lines and no blank rows
  were skipped; the record number (`index`) is exact either way.
* Gzip-compressed files (detected by their magic bytes, e.g. `.csv.gz`) are read the same way.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from warehouse.importing.readers import build_chunk, check_chunk_size, check_header
from warehouse.importing.source import RecordChunk, UnusableFile

_SNIFF_BYTES = 8192
_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
# Bytes that never occur in text files (C0 controls other than TAB, LF, VT, FF, CR, and DEL).
_CONTROL = bytes([*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F])
_MAGIC_HINTS = (
    (b"PK\x03\x04", "it looks like an Excel workbook or a zip archive; save the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "it looks like an old Excel .xls workbook; save the sheet as CSV UTF-8"),
    (b"%PDF", "it looks like a PDF; import it with --format pdf"),
    (b"PAR1", "it looks like a Parquet file; import it with --format parquet"),
)


class CsvSource:
    """A delimited text file whose header, delimiter and encoding are settled when it is opened."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.format = fmt
        self.name = path.name
        self.compressed = _is_gzip(path)
        self.encoding = self._detect_encoding()
        self.delimiter = self._choose_delimiter()
        self.header, self._width = self._read_header()

    # -- opening ---------------------------------------------------------------------------

    def _open_bytes(self) -> IO[bytes]:
        """The file's (decompressed) bytes, streamed."""
        if self.compressed:
            return gzip.open(self.path, "rb")
        return self.path.open("rb")

    def _open_text(self) -> IO[str]:
        # newline="" is what the csv module needs to see newlines inside quoted fields.
        return io.TextIOWrapper(self._open_bytes(), encoding=self.encoding, newline="")

    def _detect_encoding(self) -> str:
        """Settle the encoding from the first bytes, then prove it over the whole file."""
        try:
            with self._open_bytes() as stream:
                head = stream.read(_SNIFF_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise UnusableFile(f"{self.name} cannot be read ({_reason(exc)})") from None
        if head.startswith(codecs.BOM_UTF8):
            encoding, body = "utf-8-sig", head[len(codecs.BOM_UTF8) :]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding, body = "utf-16", b""
        else:
            encoding, body = "utf-8", head
        if encoding != "utf-16":
            self._refuse_binary(body)
        self._validate(encoding)
        return encoding

    def _refuse_binary(self, head: bytes) -> None:
        for magic, hint in _MAGIC_HINTS:
            if head.startswith(magic):
                raise UnusableFile(f"{self.name} is not a text file ({hint})")
        if b"\x00" in head:
            every_other = head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4
            hint = (
                "it looks like UTF-16 without a byte order mark; save it as UTF-8"
                if every_other
                else "it contains NUL bytes; is it a binary file renamed to .csv?"
            )
            raise UnusableFile(f"{self.name} is not a text file ({hint})")
        controls = sum(head.count(byte) for byte in _CONTROL)
        if controls > len(head) * 0.02:
            raise UnusableFile(
                f"{self.name} is not a text file (it contains control bytes); "
                "export the data as CSV UTF-8 and import again"
            )

    def _validate(self, encoding: str) -> None:
        """Decode the whole file once, block by block, so bad bytes are refused before import."""
        # The BOM is skipped here rather than left to the codec, so error offsets count from
        # the start of the file (the BOM-aware codecs report them relative to after the BOM).
        offset, plain = {"utf-8-sig": (3, "utf-8"), "utf-16": (2, None)}.get(encoding, (0, encoding))
        decoder = codecs.getincrementaldecoder(plain or self._utf16_variant())(errors="strict")
        seen_text = False
        try:
            with self._open_bytes() as stream:
                stream.read(offset)
                while True:
                    block = stream.read(_BLOCK)
                    final = not block
                    # Bytes of a character split across blocks, which the decoder holds back.
                    carried = len(decoder.getstate()[0])
                    try:
                        text = decoder.decode(block, final=final)
                    except UnicodeDecodeError as exc:
                        bad = exc.object[exc.start] if exc.start < len(exc.object) else None
                        raise self._not_utf(encoding, bad, offset - carried + exc.start) from None
                    if "\x00" in text:
                        raise UnusableFile(
                            f"{self.name} is not a text file (it contains NUL characters); "
                            "export the data as CSV UTF-8 and import again"
                        )
                    seen_text = seen_text or bool(text.strip())
                    offset += len(block)
                    if final:
                        break
        except (OSError, EOFError, zlib.error) as exc:
            raise UnusableFile(f"{self.name} cannot be read ({_reason(exc)})") from None
        if not seen_text:
            raise UnusableFile(f"{self.name} is empty; a header row is required")

    def _utf16_variant(self) -> str:
        with self._open_bytes() as stream:
            return "utf-16-le" if stream.read(2) == codecs.BOM_UTF16_LE else "utf-16-be"

    def _not_utf(self, encoding: str, bad: int | None, offset: int) -> UnusableFile:
        if encoding == "utf-16":
            return UnusableFile(
                f"{self.name} is not valid UTF-16 text (broken character at offset {offset}); "
                "save it as UTF-8 and import again"
            )
        shown = f"byte 0x{bad:02x}" if bad is not None else "a truncated character"
        return UnusableFile(
            f"{self.name} is not UTF-8 text ({shown} at offset {offset}); save it as UTF-8 and import again"
        )

    def _choose_delimiter(self) -> str:
        if self.format == "tsv":
            return "\t"
        with self._open_text() as stream:
            line = ""
            for line in stream:
                if line.strip():
                    break
        counts = _count_outside_quotes(line, ",;\t")
        best = max(";\t", key=lambda d: counts[d])
        return best if counts[best] > counts[","] else ","

    def _read_header(self) -> tuple[list[str], int]:
        """The header names, and how many fields a record has (empty trailing names dropped)."""
        with self._open_text() as stream:
            reader = self._reader(stream)
            try:
                cells = next((row for row in reader if any(cell.strip() for cell in row)), None)
            except csv.Error as exc:
                raise UnusableFile(
                    f"{self.name} line 1 is not valid CSV ({exc}); fix the header row"
                ) from None
        if cells is None:
            raise UnusableFile(f"{self.name} is empty; a header row is required")
        while len(cells) > 1 and not cells[-1].strip():
            cells = cells[:-1]
        header = check_header(self.name, cells)
        return header, len(header)

    def _reader(self, stream: IO[str]) -> Iterator[list[str]]:
        return csv.reader(stream, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=True)

    # -- records ---------------------------------------------------------------------------

    def chunks(self, rows: int) -> Iterator[RecordChunk]:
        """Records in chunks of at most `rows`; only one chunk is held at a time."""
        check_chunk_size(rows)
        width = self._width
        delimiter = self.delimiter
        records: list[list[str | None]] = []
        extras: list[str | None] = []
        count = 0
        try:
            with self._open_text() as stream:
                reader = self._reader(stream)
                for row in reader:  # skip to the header, found the same way as when opening
                    if any(cell.strip() for cell in row):
                        break
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as exc:
                        raise UnusableFile(
                            f"{self.name} line {count + 2} is not valid CSV ({_quote_reason(exc)}); "
                            "fix the quoting and import again"
                        ) from None
                    if not any(cell.strip() for cell in row):
                        continue
                    count += 1
                    extra = None
                    if len(row) > width:
                        surplus = row[width:]
                        if any(cell.strip() for cell in surplus):
                            extra = delimiter.join(surplus)
                        row = row[:width]
                    elif len(row) < width:
                        row = row + [""] * (width - len(row))
                    records.append([cell if cell != "" else None for cell in row])
                    extras.append(extra)
                    if len(records) == rows:
                        yield self._chunk(records, extras, count)
                        records, extras = [], []
        except UnicodeDecodeError:
            # The file was proven decodable when opened; it must have changed since.
            raise UnusableFile(
                f"{self.name} changed while it was being read (it is no longer valid text); import it again"
            ) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise UnusableFile(f"{self.name} cannot be read ({_reason(exc)})") from None
        if records:
            yield self._chunk(records, extras, count)

    def _chunk(self, records: list[list[str | None]], extras: list[str | None], count: int) -> RecordChunk:
        first = count - len(records) + 1
        labels = [f"line {k + 1}" for k in range(first, count + 1)]
        return build_chunk(self.header, records, extras, first, labels)


def _is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise UnusableFile(f"{path.name} cannot be read ({_reason(exc)})") from None


def _count_outside_quotes(line: str, characters: str) -> dict[str, int]:
    counts = dict.fromkeys(characters, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


def _quote_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quoted field is never closed"
    if "expected after" in text:
        return "text follows a closing quote; quotes inside a quoted field must be doubled"
    if "field larger than field limit" in text:
        return "a field is longer than 128 KiB, usually a quote that is never closed"
    return text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return "the compressed data is truncated or corrupt"
    return str(exc) or type(exc).__name__
