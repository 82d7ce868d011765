"""A page stops at the byte cap (TELCOPULSE_QUERY_MAX_BYTES): at least one row, never more than fits."""

from __future__ import annotations

import json

import pytest

from mcp_server.query.executor import _within_bytes


def _page_bytes(rows: list[dict]) -> int:
    return len(json.dumps(rows, separators=(",", ":"))) + 1


@pytest.mark.parametrize("cap", [1, 20, 151, 152, 153, 400, 10_000])
def test_the_page_is_the_longest_prefix_that_fits(cap: int) -> None:
    rows = [{"label": "x" * 10, "n": i} for i in range(10)]
    kept, cut = _within_bytes(rows, cap)
    assert kept == rows[: len(kept)] and len(kept) >= 1
    assert cut is (len(kept) < len(rows))
    if len(kept) > 1:
        assert _page_bytes(kept) <= cap  # what is kept fits...
    if cut:
        assert _page_bytes(rows[: len(kept) + 1]) > cap  # ...and one more row would not


def test_one_row_larger_than_the_cap_is_still_returned() -> None:
    rows = [{"blob": "y" * 500}, {"blob": "z"}]
    assert _within_bytes(rows, 100) == ([rows[0]], True)
