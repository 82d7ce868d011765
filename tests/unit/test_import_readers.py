"""The import file readers: every format yields the same chunks, and every broken file is refused.

The files are built with `tests.import_fixtures`, the same builders the rest of the suite uses,
so these tests also pin what those builders produce.
"""

from __future__ import annotations

import gc
import gzip
import io
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fpdf import FPDF

from tests.import_fixtures import (
    write_binary_junk,
    write_csv,
    write_image_only_pdf,
    write_parquet,
    write_pdf_statement,
    write_truncated_parquet,
)
from warehouse.importing.readers import EXTRA_FIELDS_COLUMN, format_of, open_reader
from warehouse.importing.source import RecordChunk, Source, UnusableFile, open_source


def read_all(source: Source, rows: int = 1000) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Every record of `source`, concatenated, with its indexes and labels."""
    chunks = list(source.chunks(rows))
    if not chunks:
        return pd.DataFrame(columns=source.header), [], []
    frame = pd.concat([chunk.frame for chunk in chunks], ignore_index=True)
    index = [int(i) for chunk in chunks for i in chunk.index]
    labels = [label for chunk in chunks for label in chunk.labels]
    return frame, index, labels


def records(source: Source, rows: int = 1000) -> list[list[object]]:
    frame, _, _ = read_all(source, rows)
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def refusal(path: Path, fmt: str | None = None, rows: int = 1000) -> str:
    """The message a file is refused with, whether at open or while reading its records."""
    with pytest.raises(UnusableFile) as caught:
        for _ in open_source(path, fmt).chunks(rows):
            pass
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- CSV / TSV -------------------------------------------------------------------------------


def test_csv_quoting_per_rfc_4180(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    lines = ["id,name,note", '1,"Dupont, Marie","said ""hello"""', '2,"Line one\r\nline two",plain', '3,,""']
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    source = open_source(path)
    assert source.format == "csv"
    assert source.header == ["id", "name", "note"]
    frame, index, labels = read_all(source)
    assert list(frame.columns) == ["id", "name", "note"]
    assert records(source) == [
        ["1", "Dupont, Marie", 'said "hello"'],
        ["2", "Line one\r\nline two", "plain"],
        ["3", None, None],
    ]
    assert index == [1, 2, 3]
    # Labels count records, not physical lines: record 3 is "line 4" though it sits on line 5.
    assert labels == ["line 2", "line 3", "line 4"]


def test_csv_builder_round_trip(tmp_path: Path) -> None:
    rows = [["a,b", 'q"uote', "multi\nline"], ["x", None, "  padded  "]]
    source = open_source(write_csv(tmp_path / "built.csv", ["c1", "c2", "c3"], rows))
    assert records(source) == [["a,b", 'q"uote', "multi\nline"], ["x", None, "  padded  "]]


def test_semicolon_csv_is_sniffed(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "export.csv",
        ["msisdn", "montant", "date"],
        [["+33612345678", "12,50", "2024-05-01"], ["+33612345679", "3,10", "2024-05-02"]],
        delimiter=";",
    )
    source = open_source(path)
    assert source.header == ["msisdn", "montant", "date"]
    assert records(source) == [
        ["+33612345678", "12,50", "2024-05-01"],
        ["+33612345679", "3,10", "2024-05-02"],
    ]


def test_tab_separated_dot_csv_is_sniffed(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tabs.csv", ["a", "b"], [["1,5", "2"]], delimiter="\t")
    assert records(open_source(path)) == [["1,5", "2"]]


def test_comma_header_with_a_semicolon_in_a_quoted_name_stays_comma(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text('id,"label; long",x\n1,a;b,2\n', encoding="utf-8")
    source = open_source(path)
    assert source.header == ["id", "label; long", "x"]
    assert records(source) == [["1", "a;b", "2"]]


def test_tsv_with_bom_and_padded_header(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "cdr.tsv",
        [" msisdn ", "duration_s", " cell_id"],
        [["+447700900001", "61", "A1"], ["+447700900002", "0", ""]],
        delimiter="\t",
        bom=True,
    )
    source = open_source(path)
    assert source.format == "tsv"
    assert source.header == ["msisdn", "duration_s", "cell_id"]
    assert source.header[0].encode() == b"msisdn"
    assert records(source) == [["+447700900001", "61", "A1"], ["+447700900002", "0", None]]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "excel.csv", ["nom", "ville"], [["José", "Málaga"]], encoding="utf-16")
    assert path.read_bytes()[:2] == b"\xff\xfe"
    source = open_source(path)
    assert source.header == ["nom", "ville"]
    assert records(source) == [["José", "Málaga"]]


def test_utf8_text_is_kept_exactly(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "utf8.csv", ["name"], [["Zoë Ångström"], ["東京"]])
    assert records(open_source(path)) == [["Zoë Ångström"], ["東京"]]


def test_chunks_are_contiguous(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", ["n", "v"], [[str(i), f"v{i}"] for i in range(1, 2501)])
    chunks = list(open_source(path).chunks(1000))
    assert [len(chunk.frame) for chunk in chunks] == [1000, 1000, 500]
    assert all(isinstance(chunk, RecordChunk) for chunk in chunks)
    assert all(chunk.index.dtype == np.int64 for chunk in chunks)
    assert all(len(chunk.labels) == len(chunk.frame) == len(chunk.index) for chunk in chunks)
    index = np.concatenate([chunk.index for chunk in chunks])
    assert index.tolist() == list(range(1, 2501))
    labels = [label for chunk in chunks for label in chunk.labels]
    assert labels == [f"line {n}" for n in range(2, 2502)]
    assert chunks[1].frame["n"].iloc[0] == "1001"
    assert chunks[1].frame.index.tolist() == list(range(1000))


def test_large_csv_holds_one_chunk_at_a_time(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "large.csv", ["msisdn", "amount"], [[f"+3361{i:07d}", "1.5"] for i in range(200_000)]
    )
    sizes = []
    previous: weakref.ref[pd.DataFrame] | None = None
    for chunk in open_source(path).chunks(50_000):
        sizes.append(len(chunk.frame))
        if previous is not None:
            gc.collect()
            assert previous() is None, "the reader kept an earlier chunk alive"
        previous = weakref.ref(chunk.frame)
        del chunk
    assert sizes == [50_000, 50_000, 50_000, 50_000]


def test_too_many_and_too_few_fields(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7,8\n9\n10,11,12,,\n", encoding="utf-8")
    frame, index, labels = read_all(open_source(path))
    assert list(frame.columns) == ["a", "b", "c", EXTRA_FIELDS_COLUMN]
    assert frame[["a", "b", "c"]].where(frame.notna(), None).values.tolist() == [
        ["1", "2", "3"],
        ["4", "5", "6"],
        ["9", None, None],
        ["10", "11", "12"],
    ]
    # Empty surplus fields (a trailing delimiter) are not flagged.
    assert frame[EXTRA_FIELDS_COLUMN].tolist() == [None, "7,8", None, None]
    assert index == [1, 2, 3, 4]
    assert labels == ["line 2", "line 3", "line 4", "line 5"]


def test_clean_chunks_have_no_extra_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "clean.csv", ["a", "b"], [["1", "2"]])
    frame, _, _ = read_all(open_source(path))
    assert list(frame.columns) == ["a", "b"]


def test_trailing_empty_header_cells_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("a,b,,\n1,2,,\n", encoding="utf-8")
    source = open_source(path)
    assert source.header == ["a", "b"]
    frame, _, _ = read_all(source)
    assert frame.values.tolist() == [["1", "2"]]


def test_blank_and_all_empty_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n\n,\n3,4\n\n", encoding="utf-8")
    _, index, labels = read_all(open_source(path))
    assert records(open_source(path)) == [["1", "2"], ["3", "4"]]
    assert index == [1, 2]
    assert labels == ["line 2", "line 3"]


def test_header_only_csv_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("msisdn,amount\r\n", encoding="utf-8")
    source = open_source(path)
    assert source.header == ["msisdn", "amount"]
    assert list(source.chunks(10)) == []


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "cdr.csv.gz"
    path.write_bytes(gzip.compress(b"a;b\n1;2\n"))
    source = open_source(path)
    assert (source.format, source.header) == ("csv", ["a", "b"])
    assert records(source) == [["1", "2"]]


def test_non_utf8_csv_is_refused_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nJosé,Paris\n".encode("cp1252"))
    assert refusal(path) == (
        "latin1.csv is not UTF-8 text (byte 0xe9 at offset 13); save it as UTF-8 and import again"
    )


def test_non_utf8_byte_far_into_the_file_is_refused_at_open(tmp_path: Path) -> None:
    # A valid 2-byte character straddles the 1 MiB read boundary; the bad byte comes after it.
    prefix = b"name\n" + b"x" * ((1 << 20) - 6) + b"\n"
    assert len(prefix) == 1 << 20
    path = tmp_path / "late.csv"
    path.write_bytes(prefix[:-1] + "é".encode() + b"\nab\x92cd\n")
    bad_offset = len(prefix) - 1 + 2 + 1 + 2
    with pytest.raises(UnusableFile) as caught:
        open_source(path)
    assert str(caught.value) == (
        f"late.csv is not UTF-8 text (byte 0x92 at offset {bad_offset}); save it as UTF-8 and import again"
    )


def test_bad_byte_offset_counts_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfname\nab\xe9\n")
    assert refusal(path) == (
        "bom.csv is not UTF-8 text (byte 0xe9 at offset 10); save it as UTF-8 and import again"
    )


def test_broken_utf16_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(b"\xff\xfe" + "ab\n".encode("utf-16-le") + b"\x00\xdc" + "x\n".encode("utf-16-le"))
    assert refusal(path) == (
        "u16.csv is not valid UTF-16 text (broken character at offset 8); save it as UTF-8 and import again"
    )


def test_binary_junk_is_refused(tmp_path: Path) -> None:
    message = refusal(write_binary_junk(tmp_path / "junk.csv"))
    assert message.startswith("junk.csv is not a text file (")


def test_spreadsheet_renamed_to_csv_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    assert refusal(path) == (
        "book.csv is not a text file (it looks like an Excel workbook or a zip archive; "
        "save the sheet as CSV UTF-8)"
    )


def test_utf16_without_bom_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nobom.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-16-le"))
    assert refusal(path) == (
        "nobom.csv is not a text file (it looks like UTF-16 without a byte order mark; save it as UTF-8)"
    )


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n \n\t\n"])
def test_empty_csv_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert refusal(path) == "empty.csv is empty; a header row is required"


@pytest.mark.parametrize(
    ("first_line", "reason"),
    [
        ("12,4.5,-3", "the first row holds values, not column names"),
        (
            "0f8fad5b-d9cb-469f-a165-70867728950e,+33612345678,2024-05-01",
            "the first row holds values, not column names",
        ),
        ("a,,c", "column 2 has no name"),
        ("a,b,a", "column 'a' appears twice"),
        ("a, b ,b", "column 'b' appears twice"),
    ],
)
def test_unrecognisable_header_is_refused(tmp_path: Path, first_line: str, reason: str) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text(first_line + "\n1,2,3\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"noheader.csv has no recognisable header row ({reason})")


def test_unclosed_quote_is_refused_naming_the_record(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,2\n3,"open\n4,5\n', encoding="utf-8")
    assert refusal(path) == (
        "quote.csv line 3 is not valid CSV (a quoted field is never closed); fix the quoting and import again"
    )


def test_text_after_a_closing_quote_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,"x"y\n', encoding="utf-8")
    assert refusal(path).startswith("quote.csv line 2 is not valid CSV (text follows a closing quote;")


def test_chunks_can_be_read_twice(tmp_path: Path) -> None:
    source = open_source(write_csv(tmp_path / "twice.csv", ["a"], [["1"], ["2"], ["3"]]))
    assert records(source, 2) == records(source, 1) == [["1"], ["2"], ["3"]]


def test_chunk_size_must_be_positive(tmp_path: Path) -> None:
    source = open_source(write_csv(tmp_path / "a.csv", ["a"], [["1"]]))
    with pytest.raises(ValueError, match="rows must be at least 1"):
        list(source.chunks(0))


# -- format choice ----------------------------------------------------------------------------


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xyz"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UnusableFile) as caught:
        open_reader(path, None)
    assert str(caught.value) == (
        "cannot tell the format of x.xyz from its extension; pass --format csv|tsv|parquet|pdf"
    )


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    text = tmp_path / "export.txt"
    text.write_text("a\tb\n1\t2\n", encoding="utf-8")
    source = open_reader(text, "tsv")
    assert (source.format, source.header, records(source)) == ("tsv", ["a", "b"], [["1", "2"]])

    # A .csv file read as TSV: the comma is then part of the values.
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("x,y\tz\n1,2\t3\n", encoding="utf-8")
    assert open_reader(mixed, None).header == ["x", "y\tz"]
    as_tsv = open_reader(mixed, "tsv")
    assert (as_tsv.header, records(as_tsv)) == (["x,y", "z"], [["1,2", "3"]])

    parquet = write_parquet(tmp_path / "data.bin", pd.DataFrame({"n": [1, 2]}))
    assert records(open_reader(parquet, "parquet")) == [[1], [2]]


def test_format_names(tmp_path: Path) -> None:
    assert format_of(Path("a.CSV"), None) == "csv"
    assert format_of(Path("a.csv.gz"), None) == "csv"
    assert format_of(Path("a.pq"), None) == "parquet"
    assert format_of(Path("a.Pdf"), None) == "pdf"
    assert format_of(Path("a.tsv"), None) == "tsv"
    assert format_of(Path("a.xyz"), "PDF") == "pdf"
    with pytest.raises(UnusableFile, match=r"unknown format 'xlsx'; pass --format csv\|tsv\|parquet\|pdf"):
        format_of(Path("a.xlsx"), "xlsx")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnusableFile, match=r"^nothere\.csv does not exist$"):
        open_source(tmp_path / "nothere.csv")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UnusableFile, match=r"^dir\.csv is not a file$"):
        open_source(tmp_path / "dir.csv")


# -- Parquet ----------------------------------------------------------------------------------


def test_parquet_round_trip_keeps_native_types(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "msisdn": ["+33612345678", "+33612345679", None],
            "amount": [1.5, float("nan"), -2.25],
            "roaming": [True, False, True],
            "seconds": np.array([61, 0, 3600], dtype=np.int64),
            "started_at": pd.to_datetime(
                ["2024-05-01 10:00:00", "2024-05-01 11:30:00", "2024-05-02 00:00:01"]
            ).tz_localize("UTC"),
        }
    )
    path = write_parquet(tmp_path / "cdr.parquet", frame, row_group_size=2)
    source = open_source(path)
    assert source.format == "parquet"
    assert source.header == ["msisdn", "amount", "roaming", "seconds", "started_at"]
    chunks = list(source.chunks(2))
    assert [len(chunk.frame) for chunk in chunks] == [2, 1]
    got, index, labels = read_all(source, 2)
    assert index == [1, 2, 3]
    assert labels == ["row 1", "row 2", "row 3"]
    assert got["msisdn"].tolist()[:2] == ["+33612345678", "+33612345679"]
    assert pd.isna(got["msisdn"].iloc[2])
    assert got["amount"].dtype == np.float64
    assert got["amount"].iloc[0] == 1.5 and np.isnan(got["amount"].iloc[1])
    assert got["roaming"].dtype == bool and got["roaming"].tolist() == [True, False, True]
    assert got["seconds"].dtype == np.int64 and got["seconds"].tolist() == [61, 0, 3600]
    assert got["started_at"].iloc[1] == pd.Timestamp("2024-05-01 11:30:00", tz="UTC")


def test_parquet_chunks_cross_row_groups(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "n.pq", pd.DataFrame({"n": range(2500)}), row_group_size=700)
    chunks = list(open_source(path).chunks(1000))
    assert [len(chunk.frame) for chunk in chunks] == [1000, 1000, 500]
    assert np.concatenate([c.index for c in chunks]).tolist() == list(range(1, 2501))
    assert chunks[2].labels[-1] == "row 2500"
    assert chunks[2].frame["n"].iloc[-1] == 2499


def test_truncated_parquet_is_refused(tmp_path: Path) -> None:
    path = write_truncated_parquet(tmp_path / "cut.parquet")
    with pytest.raises(UnusableFile) as caught:
        open_source(path)
    assert str(caught.value) == (
        "cut.parquet is not a readable Parquet file (no Parquet footer: the file is truncated "
        "or not Parquet); export it again"
    )


@pytest.mark.parametrize("content", [b"", b"a,b\n1,2\n", b"PAR1" + bytes(64) + b"PAR1"])
def test_not_parquet_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.parquet"
    path.write_bytes(content)
    assert refusal(path).startswith("fake.parquet is not a readable Parquet file (")


def test_damaged_row_group_is_refused_while_reading(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": [f"value-{i:06d}-" * 4 for i in range(3000)]})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, row_group_size=1000)
    data = bytearray(sink.getvalue())
    metadata = pq.ParquetFile(io.BytesIO(bytes(data))).metadata
    column = metadata.row_group(2).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    end = start + column.total_compressed_size
    data[start:end] = b"\xff" * (end - start)  # damage the last row group's pages, not the footer
    path = tmp_path / "damaged.parquet"
    path.write_bytes(bytes(data))
    source = open_source(path)  # the footer is intact
    assert source.header == ["text"]
    chunks = source.chunks(1000)
    assert len(next(chunks).frame) == 1000
    with pytest.raises(UnusableFile) as caught:
        list(chunks)
    assert str(caught.value).startswith("damaged.parquet is not a readable Parquet file from row ")


def test_parquet_header_is_refused_when_names_repeat_after_stripping(tmp_path: Path) -> None:
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"a": [1], " a": [2]}), path)
    assert refusal(path) == "dup.parquet has the column 'a' twice; name every column once"


# -- PDF --------------------------------------------------------------------------------------

HEADER = ["msisdn", "call_date", "duration_s", "amount_eur", "description"]


def statement_rows(count: int) -> list[list[str | None]]:
    return [
        [
            f"+336120{i:05d}",
            f"2024-05-{i % 28 + 1:02d}",
            str(i * 7),
            f"{i * 0.13:.2f}",
            "Roaming data" if i % 3 else None,
        ]
        for i in range(count)
    ]


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "aligned-text"])
def test_pdf_statement_over_three_pages(tmp_path: Path, ruled: bool) -> None:
    rows = statement_rows(70)
    path = write_pdf_statement(tmp_path / "statement.pdf", HEADER, rows, rows_per_page=30, ruled=ruled)
    source = open_source(path)
    assert source.format == "pdf"
    assert source.header == HEADER
    frame, index, labels = read_all(source, 25)
    assert list(frame.columns) == HEADER
    assert records(source, 25) == rows
    assert index == list(range(1, 71))
    assert labels[:30] == [f"page 1 row {r}" for r in range(1, 31)]
    assert labels[30] == "page 2 row 1"
    assert index[30] == 31
    assert labels[-1] == "page 3 row 10"
    assert [len(chunk.frame) for chunk in source.chunks(25)] == [25, 25, 20]
    # Titles and footers never become records; the aligned-text reading meets the titles.
    assert all("Page" not in " ".join(v for v in row if v) for row in records(source))
    assert set(source.skipped) <= {f"page {p}: Statement" for p in (1, 2, 3)}


def test_pdf_with_a_long_title_and_padded_header(tmp_path: Path) -> None:
    # The aligned-text strategy needs three aligned words to see a column: header + 2 values.
    # A record with one value between full records is kept, not taken for a title.
    rows = [["+33612000001", "12.50"], ["+33612000002", None], ["+33612000003", "0.99"]]
    path = write_pdf_statement(
        tmp_path / "s.pdf", ["Mobile number", "Amount (EUR)"], rows, ruled=False, title="ACME Telecom"
    )
    source = open_source(path)
    assert source.header == ["Mobile number", "Amount (EUR)"]
    assert records(source) == rows


def test_pdf_header_only(tmp_path: Path) -> None:
    source = open_source(write_pdf_statement(tmp_path / "empty.pdf", HEADER, []))
    assert source.header == HEADER
    assert list(source.chunks(10)) == []


def test_image_only_pdf_is_refused(tmp_path: Path) -> None:
    path = write_image_only_pdf(tmp_path / "scan.pdf")
    with pytest.raises(UnusableFile) as caught:
        open_source(path)
    message = str(caught.value)
    assert "OCR is not supported" in message
    assert message == (
        "scan.pdf has no text layer (a scanned image?); OCR is not supported — "
        "export the statement as text PDF, CSV or Parquet"
    )


def test_pdf_with_text_but_no_table_is_refused(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(
        0, 6, "Dear customer,\nthank you for your payment.\nYour next statement will follow.\nRegards"
    )
    path = tmp_path / "letter.pdf"
    pdf.output(str(path))
    assert refusal(path) == (
        "letter.pdf has text but no table found on any page; export the records as CSV or Parquet"
    )


@pytest.mark.parametrize("content", [b"", b"%PDF-1.4 garbage", b"a,b\n1,2\n"])
def test_not_a_pdf_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    assert refusal(path).startswith("bad.pdf is not a readable PDF file (")


def test_truncated_pdf_is_refused(tmp_path: Path) -> None:
    whole = write_pdf_statement(tmp_path / "whole.pdf", HEADER, statement_rows(70)).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    assert refusal(path).startswith("cut.pdf ")


def chunk_sizes(chunks: Iterator[RecordChunk]) -> list[int]:
    return [len(chunk.frame) for chunk in chunks]


def test_pdf_chunks_span_pages(tmp_path: Path) -> None:
    path = write_pdf_statement(tmp_path / "s.pdf", HEADER, statement_rows(45), rows_per_page=20)
    assert chunk_sizes(open_source(path).chunks(7)) == [7, 7, 7, 7, 7, 7, 3]


@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "aligned-text"])
def test_single_value_rows_at_the_end_of_a_page_are_dropped_and_reported(tmp_path: Path, ruled: bool) -> None:
    rows = [
        ["+33612000001", "12.50"],
        ["+33612000002", "3.00"],
        ["+33612000003", "0.99"],
        ["Total: 16.49", None],
    ]
    path = write_pdf_statement(tmp_path / "s.pdf", ["msisdn", "amount"], rows, ruled=ruled)
    source = open_source(path)
    assert records(source) == rows[:3]
    assert "page 1: Total: 16.49" in source.skipped


def test_lines_around_an_unruled_table_are_not_records(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.set_xy(10, 20)
    pdf.cell(0, 6, "Account 12345 - May 2024")
    pdf.ln(8)
    table = [["msisdn", "amount", "plan"]] + [[f"+3361200000{i}", f"{i}.50", "Pro"] for i in range(5)]
    for row in table:
        pdf.set_x(10)
        for width, text in zip((40, 30, 30), row, strict=True):
            pdf.cell(width, 6, text)
        pdf.ln(6)
    pdf.set_x(10)
    pdf.cell(40, 6, "Page 1 of 1")  # directly under the table, in its first column
    path = tmp_path / "tight.pdf"
    pdf.output(str(path))
    source = open_source(path)
    assert source.header == ["msisdn", "amount", "plan"]
    assert records(source) == table[1:]
    assert source.skipped == ["page 1: Account 12345 - May 2024", "page 1: Page 1 of 1"]
