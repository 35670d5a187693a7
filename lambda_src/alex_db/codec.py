"""Python values <-> RDS Data API parameters and result fields; pure functions, no I/O.

Parameters (Python -> ``SqlParameter``):

=====================  ==================================  ==========
Python                 value                               typeHint
=====================  ==================================  ==========
None                   ``isNull: true``                    -
bool                   ``booleanValue``                    -
int (64-bit signed)    ``longValue``                       -
float (finite)         ``doubleValue``                     -
str                    ``stringValue``                     -
Decimal (finite)       ``stringValue`` ``"12.50"``         DECIMAL
dict / list            ``stringValue`` (compact JSON)      JSON
uuid.UUID              ``stringValue``                     UUID
datetime               ``stringValue`` ``YYYY-MM-DD HH:MM:SS[.FFF]``  TIMESTAMP
date                   ``stringValue`` ``YYYY-MM-DD``      DATE
time                   ``stringValue`` ``HH:MM:SS[.FFF]``  TIME
bytes / bytearray      ``blobValue``                       -
=====================  ==================================  ==========

Aware datetimes are converted to UTC and sent without an offset (the Data API's TIMESTAMP
format has none). TIMESTAMP and TIME carry the 3 fractional digits the Data API documents
(``[.FFF]``): microseconds are truncated to milliseconds, as AWS's own Java client does.
NaN and ±infinity (float or Decimal) are **rejected** with ``ValueError``:
JSON cannot carry them and a silent mapping would corrupt financial data. Lists are sent as
JSON because the Data API has no array parameters; JSON documents take JSON-native values only
(dump Pydantic models with ``mode="json"`` first).

Result fields -> Python are decided by the column's ``typeName`` from ``columnMetadata``,
never by the shape of the text (a text column holding ``"{...}"`` stays a ``str``):

==========================================  ===========================================
typeName                                    Python
==========================================  ===========================================
bool                                        bool
int2, int4, int8, oid, serial*              int
float4, float8                              float (``"NaN"``/``"Infinity"`` strings too)
numeric                                     Decimal (exact; never through float)
json, jsonb                                 parsed JSON (dict, list, str, int, ...)
uuid                                        uuid.UUID
date                                        datetime.date
timestamp                                   naive datetime.datetime
timestamptz                                 aware datetime.datetime in UTC
time                                        datetime.time
bytea                                       bytes
_<type> (arrays, ``arrayValue``)            list of the element type, recursively
anything else (text, varchar, name, ...)    the field's value as sent (str, int, ...)
``isNull: true``                            None
==========================================  ===========================================
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from alex_db.errors import ParameterError
from alex_db.limits import TIMESTAMP_FRACTION_DIGITS

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Json(str):
    """JSON text you already serialised: sent as is with typeHint JSON (the database validates it)."""


def _fraction(microsecond: int, digits: int) -> str:
    fraction = f"{microsecond:06d}"[:digits].rstrip("0")
    return f".{fraction}" if fraction else ""


def format_timestamp(value: dt.datetime, digits: int = TIMESTAMP_FRACTION_DIGITS) -> str:
    """``YYYY-MM-DD HH:MM:SS[.FFF]`` in UTC; `digits` > 3 only for result fields (the engine's side)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + _fraction(value.microsecond, digits)


def format_time(value: dt.time, digits: int = TIMESTAMP_FRACTION_DIGITS) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + _fraction(value.microsecond, digits)


def format_date(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def to_parameter(name: str, value: Any) -> dict[str, Any]:
    """One ``SqlParameter`` dict for ``:name`` = value, with the typeHint the value needs."""
    field, hint = _encode(name, value)
    parameter: dict[str, Any] = {"name": name, "value": field}
    if hint:
        parameter["typeHint"] = hint
    return parameter


def to_parameters(values: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Parameters from a mapping of Python values, or Data API SqlParameters passed through as given."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        return [to_parameter(name, value) for name, value in values.items()]
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ParameterError(f"parameters must be a mapping or a list of SqlParameters, got {type(values).__name__}")
    for index, parameter in enumerate(values):
        if not isinstance(parameter, Mapping) or "name" not in parameter or "value" not in parameter:
            raise ParameterError(f"parameters[{index}] is not a SqlParameter ({{'name': …, 'value': {{…}}}})")
    return [dict(parameter) for parameter in values]


def _encode(name: str, value: Any) -> tuple[dict[str, Any], str | None]:
    if value is None:
        return {"isNull": True}, None
    if isinstance(value, bool):
        return {"booleanValue": value}, None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ParameterError(f"parameter :{name}: {value} is outside the 64-bit range of longValue")
        return {"longValue": value}, None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(f"parameter :{name}: {value} is not finite; NaN/infinity are rejected")
        return {"doubleValue": value}, None
    if isinstance(value, Json):
        return {"stringValue": str(value)}, "JSON"
    if isinstance(value, str):
        return {"stringValue": _valid_text(name, value)}, None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ParameterError(f"parameter :{name}: Decimal {value} is not finite; NaN/infinity are rejected")
        return {"stringValue": format(value, "f")}, "DECIMAL"
    if isinstance(value, (dict, list, tuple)):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"parameter :{name}: not JSON-serialisable: {exc}") from None
        return {"stringValue": _valid_text(name, text)}, "JSON"
    if isinstance(value, uuid.UUID):
        return {"stringValue": str(value)}, "UUID"
    if isinstance(value, dt.datetime):
        return {"stringValue": format_timestamp(value)}, "TIMESTAMP"
    if isinstance(value, dt.date):
        return {"stringValue": format_date(value)}, "DATE"
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise ParameterError(f"parameter :{name}: time with a timezone is not supported by the Data API")
        return {"stringValue": format_time(value)}, "TIME"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blobValue": bytes(value)}, None
    raise ParameterError(f"parameter :{name}: unsupported type {type(value).__name__}")


# -- results ----------------------------------------------------------------------------------

_INT_TYPES = {"int2", "int4", "int8", "oid", "serial", "serial4", "serial8", "bigserial", "smallserial"}
_FLOAT_TYPES = {"float4", "float8"}


def parse_timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace(" ", "T", 1))


def from_field(field: Mapping[str, Any], type_name: str | None) -> Any:
    """Decode one result field using the column's PostgreSQL type name (``columnMetadata.typeName``)."""
    if field.get("isNull"):
        return None
    if "arrayValue" in field:
        element = type_name[1:] if type_name and type_name.startswith("_") else type_name
        return _from_array(field["arrayValue"], element)
    ((kind, value),) = ((k, v) for k, v in field.items() if k != "isNull")
    return decode_scalar(kind, value, (type_name or "").lower())


def decode_scalar(kind: str, value: Any, type_name: str) -> Any:
    if type_name == "numeric":
        return Decimal(value)
    if type_name in ("json", "jsonb"):
        return json.loads(value)
    if type_name == "uuid":
        return uuid.UUID(value)
    if type_name == "date":
        return dt.date.fromisoformat(value)
    if type_name == "timestamp":
        return parse_timestamp(value)
    if type_name == "timestamptz":
        return parse_timestamp(value).replace(tzinfo=dt.UTC)
    if type_name == "time":
        return dt.time.fromisoformat(value)
    if type_name in _FLOAT_TYPES:
        return float(value)
    if type_name in _INT_TYPES and kind == "stringValue":
        return int(value)
    if kind == "blobValue":
        return bytes(value)
    return value


_ARRAY_KINDS = {
    "booleanValues": "booleanValue",
    "longValues": "longValue",
    "doubleValues": "doubleValue",
    "stringValues": "stringValue",
}


def _from_array(array: Mapping[str, Any], element_type: str | None) -> list[Any]:
    if "arrayValues" in array:
        return [_from_array(inner, element_type) for inner in array["arrayValues"]]
    ((kind, values),) = array.items()
    scalar_kind = _ARRAY_KINDS[kind]
    type_name = (element_type or "").lower()
    return [None if v is None else decode_scalar(scalar_kind, v, type_name) for v in values]


def decode_records(records: list[list[Mapping[str, Any]]], column_metadata: list[Mapping[str, Any]]) -> list[dict]:
    """Rows as dicts keyed by column label, values decoded by column type."""
    names = [c.get("label") or c.get("name") for c in column_metadata]
    types = [c.get("typeName") for c in column_metadata]
    return [{n: _decoded(n, f, t) for n, f, t in zip(names, row, types, strict=True)} for row in records]


def _decoded(name: str, field: Mapping[str, Any], type_name: str | None) -> Any:
    try:
        return from_field(field, type_name)
    except (ValueError, ArithmeticError) as exc:
        # e.g. 'infinity', '0044-03-15 BC' or '10000-01-01' in a date column: valid in PostgreSQL,
        # outside what datetime can hold. Name the column rather than fail somewhere deep inside.
        raise ValueError(f"column {name} ({type_name}): {_field_text(field)} cannot be decoded: {exc}") from None


def _field_text(field: Mapping[str, Any]) -> str:
    value = next((v for k, v in field.items() if k != "isNull"), None)
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _valid_text(name: str, value: str) -> str:
    """`value` if it is valid Unicode: a lone surrogate (e.g. half of a decoded emoji) is refused before
    any call, naming the parameter and the position, instead of failing somewhere after a call was made."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParameterError(
            f"parameter :{name}: character {exc.start} is a lone surrogate ({value[exc.start]!r}): not valid Unicode"
        ) from None
    return value
