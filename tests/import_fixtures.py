"""Builders for the files a team might hand to `telcopulse import`, shared across the suite.

The import tests need real files in every format — including the broken ones people actually
send (a scanned statement, a half-copied Parquet file, a binary renamed to .csv) — and each
test writing its own would drift from the others. Every builder writes `path` and returns it.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fpdf import FPDF
from PIL import Image, ImageDraw

Cell = object


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    encoding: str = "utf-8",
) -> Path:
    """Write an RFC 4180 file (CRLF line ends, minimal quoting); None becomes an empty field.

    `bom` prepends the UTF-8 byte order mark that Excel adds; for UTF-16 pass
    `encoding="utf-16"`, whose codec writes its own BOM. Rows may be ragged on purpose.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    data = buffer.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def write_parquet(path: Path, frame: pd.DataFrame, *, row_group_size: int | None = None) -> Path:
    """Write `frame` without its index, so the file's columns are exactly the frame's."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_truncated_parquet(path: Path) -> Path:
    """A valid Parquet file cut in half, as an interrupted copy or download leaves it."""
    frame = pd.DataFrame({"msisdn": [f"+3361234{i:04d}" for i in range(500)], "amount": range(500)})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    data = sink.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_binary_junk(path: Path, size: int = 4096) -> Path:
    """Deterministic random bytes (NULs included), like an archive or image renamed to .csv."""
    path.write_bytes(random.Random(20240611).randbytes(size))
    return path


def write_pdf_statement(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    rows_per_page: int = 30,
    ruled: bool = True,
    title: str = "Statement",
) -> Path:
    """A text PDF billing statement laid out the way billing systems print them.

    Each page has `title` at the top, the table header (repeated on every page), up to
    `rows_per_page` records and a "Page i of n" footer. `ruled` draws every cell's border
    (pdfplumber's line strategy finds it); otherwise the columns are only aligned text, which
    only the text-alignment strategy can read. Core fonts only cover Latin-1 text.
    """
    header_cells = [str(name) for name in header]
    body = [["" if value is None else str(value) for value in row] for row in rows]
    pages = [body[i : i + rows_per_page] for i in range(0, len(body), rows_per_page)] or [[]]

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_font("Helvetica", size=9)
    # Column widths from the longest text plus padding, so unruled columns stay well apart.
    widths = []
    for i, name in enumerate(header_cells):
        texts = [name] + [row[i] for row in body if i < len(row)]
        widths.append(max(pdf.get_string_width(text) for text in texts) + 8)
    line_height = 6.0
    for number, page_rows in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=12)
        pdf.set_xy(pdf.l_margin, 15)
        pdf.cell(0, 8, title)
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(pdf.l_margin, 30)
        border = 1 if ruled else 0
        for row in [header_cells, *page_rows]:
            pdf.set_x(pdf.l_margin)
            for i, width in enumerate(widths):
                text = row[i] if i < len(row) else ""
                pdf.cell(width, line_height, text, border=border)
            pdf.ln(line_height)
        pdf.set_xy(pdf.l_margin, 280)
        pdf.cell(0, 6, f"Page {number} of {len(pages)}", align="C")
    pdf.output(str(path))
    return path


def write_image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A scanned statement: each page is one raster image and there is no text layer at all."""
    image = Image.new("RGB", (600, 300), "white")
    draw = ImageDraw.Draw(image)
    for y in range(20, 300, 30):
        draw.line([(20, y), (580, y)], fill="black", width=2)
    draw.rectangle([(40, 40), (200, 60)], fill="black")  # a "word" that is only pixels
    png = io.BytesIO()
    image.save(png, format="PNG")
    pdf = FPDF(unit="mm", format="A4")
    for _ in range(pages):
        pdf.add_page()
        png.seek(0)
        pdf.image(png, x=10, y=10, w=190)
    pdf.output(str(path))
    return path
