"""Codec: Python -> Data API parameters and Data API fields -> Python, without a database."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

import pytest

from alex_db.codec import decode_records, from_field, to_parameter
from alex_db.errors import ParameterError


@pytest.mark.parametrize(
    ("value", "expected_value", "hint"),
    [
        (None, {"isNull": True}, None),
        (True, {"booleanValue": True}, None),
        (7, {"longValue": 7}, None),
        (1.5, {"doubleValue": 1.5}, None),
        ("x", {"stringValue": "x"}, None),
        (Decimal("12345678.12345678"), {"stringValue": "12345678.12345678"}, "DECIMAL"),
        (Decimal("1E+3"), {"stringValue": "1000"}, "DECIMAL"),
        ({"a": ["é", 1]}, {"stringValue": '{"a":["é",1]}'}, "JSON"),
        ([1, 2], {"stringValue": "[1,2]"}, "JSON"),
        (uuid.UUID(int=1), {"stringValue": "00000000-0000-0000-0000-000000000001"}, "UUID"),
        (dt.date(1, 1, 1), {"stringValue": "0001-01-01"}, "DATE"),
        (dt.datetime(9999, 12, 31, 23, 59, 59), {"stringValue": "9999-12-31 23:59:59"}, "TIMESTAMP"),
        (dt.datetime(2024, 5, 1, 12, 0, 0, 123000), {"stringValue": "2024-05-01 12:00:00.123"}, "TIMESTAMP"),
        # [.FFF]: the Data API documents 3 fractional digits; microseconds are truncated
        (dt.datetime(2024, 5, 1, 12, 0, 0, 123456), {"stringValue": "2024-05-01 12:00:00.123"}, "TIMESTAMP"),
        (dt.datetime(2024, 5, 1, 12, 0, 0, 500000), {"stringValue": "2024-05-01 12:00:00.5"}, "TIMESTAMP"),
        (dt.datetime(2024, 5, 1, 12, 0, 0, 999), {"stringValue": "2024-05-01 12:00:00"}, "TIMESTAMP"),
        (dt.time(8, 30, 1, 987654), {"stringValue": "08:30:01.987"}, "TIME"),
        (dt.time(8, 30), {"stringValue": "08:30:00"}, "TIME"),
        (b"\x00\xff", {"blobValue": b"\x00\xff"}, None),
    ],
)
def test_parameter_encoding(value, expected_value, hint):
    parameter = to_parameter("p", value)
    assert parameter["name"] == "p"
    assert parameter["value"] == expected_value
    assert parameter.get("typeHint") == hint


def test_aware_datetime_is_sent_in_utc():
    paris = dt.timezone(dt.timedelta(hours=2))
    parameter = to_parameter("t", dt.datetime(2024, 6, 1, 14, 0, tzinfo=paris))
    assert parameter["value"] == {"stringValue": "2024-06-01 12:00:00"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "not finite"),
        (math.inf, "not finite"),
        (Decimal("NaN"), "not finite"),
        (2**63, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        (dt.time(1, tzinfo=dt.UTC), "timezone"),
        ({"x": math.nan}, "not JSON-serialisable"),
        (object(), "unsupported type object"),
    ],
)
def test_rejected_parameters_name_the_parameter(value, message):
    with pytest.raises(ParameterError, match=rf"parameter :amount: .*{message}"):
        to_parameter("amount", value)


def test_int64_bounds_are_accepted():
    assert to_parameter("n", 2**63 - 1)["value"] == {"longValue": 2**63 - 1}
    assert to_parameter("n", -(2**63))["value"] == {"longValue": -(2**63)}


@pytest.mark.parametrize(
    ("field", "type_name", "expected"),
    [
        ({"stringValue": "12.50"}, "numeric", Decimal("12.50")),
        ({"stringValue": '{"a": 1}'}, "jsonb", {"a": 1}),
        ({"stringValue": '{"a": 1}'}, "text", '{"a": 1}'),  # text stays text, whatever it looks like
        ({"stringValue": "00000000-0000-0000-0000-000000000001"}, "uuid", uuid.UUID(int=1)),
        ({"stringValue": "2024-01-02"}, "date", dt.date(2024, 1, 2)),
        ({"stringValue": "2024-01-02 03:04:05.5"}, "timestamp", dt.datetime(2024, 1, 2, 3, 4, 5, 500000)),
        ({"stringValue": "2024-01-02 03:04:05"}, "timestamptz", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        ({"stringValue": "03:04:05"}, "time", dt.time(3, 4, 5)),
        ({"longValue": 5}, "int4", 5),
        ({"doubleValue": 0.5}, "float8", 0.5),
        ({"stringValue": "NaN"}, "float8", "nan"),
        ({"booleanValue": False}, "bool", False),
        ({"blobValue": b"\x01"}, "bytea", b"\x01"),
        ({"isNull": True}, "numeric", None),
        ({"arrayValue": {"longValues": [1, 2]}}, "_int4", [1, 2]),
        ({"arrayValue": {"stringValues": ["1.5", None]}}, "_numeric", [Decimal("1.5"), None]),
        ({"arrayValue": {"arrayValues": [{"longValues": [1]}, {"longValues": [2]}]}}, "_int8", [[1], [2]]),
    ],
)
def test_field_decoding_follows_column_type(field, type_name, expected):
    value = from_field(field, type_name)
    if expected == "nan":
        assert math.isnan(value)
    else:
        assert value == expected
        assert type(value) is type(expected)


def test_decode_records_keys_rows_by_label():
    metadata = [{"name": "n", "label": "n", "typeName": "numeric"}, {"name": "s", "label": "s", "typeName": "text"}]
    rows = decode_records([[{"stringValue": "1.10"}, {"isNull": True}]], metadata)
    assert rows == [{"n": Decimal("1.10"), "s": None}]
