"""Property tests: every Python type survives Python -> Data API -> PostgreSQL -> Data API -> Python."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alex_db.devtools.local_engine import LocalDataApi
from tests.conftest import create_database, make_client

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def rt_client(pg_server):
    name = create_database(pg_server)
    engine = LocalDataApi(pg_server.dsn(name))
    yield make_client(engine, name)
    engine.close()


def to_millis(value):
    """What the Data API's TIMESTAMP/TIME format ([.FFF]) can carry: microseconds truncated to milliseconds."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def roundtrip(client, value, sql_type: str):
    return client.query_one(f"SELECT CAST(:v AS {sql_type}) AS v", {"v": value})["v"]


# NUL cannot be stored in PostgreSQL text or jsonb; the Data API cannot send it either.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-(10**11), max_value=10**11))
def test_decimal(rt_client, value):
    result = roundtrip(rt_client, value, "numeric(20,8)")
    assert result == value and isinstance(result, Decimal)


def test_decimal_keeps_every_digit(rt_client):
    assert str(roundtrip(rt_client, Decimal("12345678.12345678"), "numeric")) == "12345678.12345678"


@SETTINGS
@given(st.integers(-(2**63), 2**63 - 1))
def test_int64(rt_client, value):
    assert roundtrip(rt_client, value, "bigint") == value


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float(rt_client, value):
    assert roundtrip(rt_client, value, "float8") == value


@SETTINGS
@given(texts)
def test_text(rt_client, value):
    assert roundtrip(rt_client, value, "text") == value


def test_text_that_looks_like_json_stays_text(rt_client):
    assert roundtrip(rt_client, '{"a": 1}', "text") == '{"a": 1}'


@SETTINGS
@given(json_values)
def test_jsonb(rt_client, value):
    if isinstance(value, (dict, list)):
        assert roundtrip(rt_client, value, "jsonb") == value


def test_nested_json_with_unicode(rt_client):
    value = {"naïve": ["日本", {"emoji": "💶", "n": [1, 2.5, None, True]}]}
    assert roundtrip(rt_client, value, "jsonb") == value
    assert roundtrip(rt_client, value, "json") == value


@SETTINGS
@given(st.uuids())
def test_uuid(rt_client, value):
    assert roundtrip(rt_client, value, "uuid") == value


@SETTINGS
@given(st.dates())
def test_date(rt_client, value):
    assert roundtrip(rt_client, value, "date") == value


def test_date_extremes(rt_client):
    assert roundtrip(rt_client, dt.date(1, 1, 1), "date") == dt.date(1, 1, 1)
    assert roundtrip(rt_client, dt.date(9999, 12, 31), "date") == dt.date(9999, 12, 31)


@SETTINGS
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
def test_timestamp(rt_client, value):
    assert roundtrip(rt_client, value, "timestamp") == to_millis(value)


@SETTINGS
@given(st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=st.timezones()))
def test_timestamptz_comes_back_in_utc(rt_client, value):
    result = roundtrip(rt_client, value, "timestamptz")
    assert result == to_millis(value.astimezone(dt.UTC)) and result.tzinfo == dt.UTC


@SETTINGS
@given(st.times())
def test_time(rt_client, value):
    assert roundtrip(rt_client, value, "time") == to_millis(value)


@SETTINGS
@given(st.binary(max_size=64))
def test_bytea(rt_client, value):
    assert roundtrip(rt_client, value, "bytea") == value


@SETTINGS
@given(st.booleans())
def test_bool(rt_client, value):
    assert roundtrip(rt_client, value, "boolean") is value


@pytest.mark.parametrize(
    "sql_type", ["numeric", "jsonb", "uuid", "date", "timestamp", "timestamptz", "time", "bytea", "text", "bigint",
                 "float8", "boolean"]
)  # fmt: skip
def test_null_for_every_type(rt_client, sql_type):
    assert roundtrip(rt_client, None, sql_type) is None


def test_arrays_come_back_as_lists(rt_client):
    row = rt_client.query_one("SELECT ARRAY[1.5, 2]::numeric[] AS n, ARRAY['a', NULL] AS t")
    assert row == {"n": [Decimal("1.5"), Decimal("2")], "t": ["a", None]}


def test_multidimensional_arrays_are_unsupported_results(rt_client):
    from alex_db.errors import DataApiError

    with pytest.raises(DataApiError) as caught:
        rt_client.query_one("SELECT ARRAY[[1, 2], [3, 4]] AS m")
    assert caught.value.code == "UnsupportedResultException"


def test_non_finite_floats_from_the_database_are_mapped(rt_client):
    row = rt_client.query_one("SELECT 'Infinity'::float8 AS inf, '-Infinity'::float8 AS ninf")
    assert row == {"inf": float("inf"), "ninf": float("-inf")}


def test_uuid_default_generation(rt_client):
    assert isinstance(rt_client.query_one("SELECT gen_random_uuid() AS u")["u"], uuid.UUID)
