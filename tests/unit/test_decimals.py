"""One Decimal → float rule for the analyses, the charts and the warehouse's frames.

Three copies used to decide differently (first value, sampled values, every value); these
tests pin the one rule and that every caller goes through it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import numpy as np
import pandas as pd

from analyses import _frame
from analyses.charts import to_frame
from analyses.decimals import coerce_decimals
from warehouse.frames import normalize_frame, rows_to_frame


def test_number_only_object_columns_become_floats_and_nothing_else_does() -> None:
    frame = pd.DataFrame(
        {
            "numeric": [decimal.Decimal("1.10"), None, decimal.Decimal("NaN")],
            "mixed_numbers": [decimal.Decimal("2"), 3, 4.5],
            "flags": [True, None, np.bool_(False)],
            "text": ["1", "2", None],
            "text_after_number": [decimal.Decimal("1"), "n/a", None],
            "empty": pd.Series([None, None, None], dtype=object),
        }
    )
    before = frame.copy()
    out = coerce_decimals(frame)
    assert out["numeric"].dtype == float and out["numeric"].tolist()[0] == 1.1
    assert out["numeric"].isna().tolist() == [False, True, True]
    assert out["mixed_numbers"].tolist() == [2.0, 3.0, 4.5]
    for column in ("flags", "text", "text_after_number", "empty"):
        assert out[column].dtype == frame[column].dtype, column
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone


def test_a_frame_without_number_objects_comes_back_as_is() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    assert coerce_decimals(frame) is frame


def test_analyses_charts_and_warehouse_share_the_one_function() -> None:
    assert _frame.coerce_decimals is coerce_decimals
    row = {"arpu": decimal.Decimal("12.50"), "flag": True}
    charted = to_frame([row, {"arpu": None, "flag": None}])
    loaded = rows_to_frame([tuple(row.values()), (None, None)], list(row))
    for frame in (charted, loaded, coerce_decimals(pd.DataFrame([row, {"arpu": None, "flag": None}]))):
        assert frame["arpu"].dtype == float and frame["arpu"].iloc[0] == 12.5
        assert frame["flag"].dtype == object


def test_warehouse_frames_keep_their_date_and_uuid_handling() -> None:
    key = uuid.UUID(int=7)
    frame = rows_to_frame(
        [(decimal.Decimal("3.5"), dt.date(2025, 1, 1), key), (None, None, None)], ["amount", "day", "id"]
    )
    assert frame["amount"].dtype == float
    assert pd.api.types.is_datetime64_any_dtype(frame["day"])
    assert frame["id"].iloc[0] == str(key) and pd.isna(frame["id"].iloc[1])
    untouched = pd.DataFrame({"amount": [decimal.Decimal("1")]})
    assert normalize_frame(untouched)["amount"].dtype == float
    assert untouched["amount"].dtype == object
