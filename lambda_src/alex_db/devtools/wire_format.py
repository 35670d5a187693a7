"""The Data API's wire format: SqlParameters -> values psycopg binds, PostgreSQL values -> result fields.

Pure translation for LocalDataApi, following the Data API reference: typeHint formats, how each
column type comes back (records, formattedRecords, columnMetadata) and AWS's error shapes.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import math
import re
import uuid
from decimal import Decimal
from typing import Any

import botocore.session
import psycopg
from botocore.exceptions import ClientError
from psycopg.adapt import Dumper, Loader

from alex_db.authoring.sql_text import CACHED_SQL_CHARS, count_statements, find_placeholders
from alex_db.codec import INT64_MAX, INT64_MIN, format_date, format_time, format_timestamp, parse_timestamp
from alex_db.limits import (
    ENGINE_HEADER_BYTES,
    MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES,
    MAX_ROW_BYTES,
    MAX_SQL_CHARS,
    TIMESTAMP_FRACTION_DIGITS,
    request_body_bytes,
)

RDS_DATA_MODEL = botocore.session.get_session().get_service_model("rds-data")
TYPE_HINTS = frozenset(RDS_DATA_MODEL.shape_for("SqlParameter").members["typeHint"].enum)

# JDBC java.sql.Types codes the Data API reports in columnMetadata.type.
_JDBC_TYPES = {
    "bool": -7, "int2": 5, "int4": 4, "int8": -5, "float4": 7, "float8": 8, "numeric": 2,
    "varchar": 12, "text": 12, "bpchar": 1, "name": 12, "date": 91, "time": 92,
    "timestamp": 93, "timestamptz": 93, "bytea": -2,
}  # fmt: skip
_OTHER_JDBC_TYPE = 1111


class UnsupportedResult(Exception):
    """A value the Data API cannot return; the engine answers UnsupportedResultException."""


class PgText(str):
    """A date/time value as PostgreSQL printed it, because Python cannot hold it (infinity, BC, year > 9999)."""


class _DateTimeLoader(Loader):
    """Loads date/time text with Python's parser; what Python cannot hold stays PostgreSQL's text."""

    parse: Any = staticmethod(dt.date.fromisoformat)

    def load(self, data: Any) -> Any:
        text = bytes(data).decode()
        try:
            return self.parse(text)
        except ValueError:
            return PgText(text)


class _TimestampLoader(_DateTimeLoader):
    parse = staticmethod(parse_timestamp)


DATE_TIME_LOADERS = {"date": _DateTimeLoader, "timestamp": _TimestampLoader, "timestamptz": _TimestampLoader}


class Varchar(str):
    """A stringValue without typeHint: AWS binds it as varchar, so uuid/jsonb columns need hints."""


class VarcharDumper(Dumper):
    oid = psycopg.postgres.types["varchar"].oid

    def dump(self, obj: str) -> bytes:
        return obj.encode()


class JsonText(str):
    """A JSON typeHint value: bound as json, exactly as sent."""


class JsonDumper(Dumper):
    oid = psycopg.postgres.types["json"].oid

    def dump(self, obj: str) -> bytes:
        return obj.encode()


def client_error(operation: str, code: str, message: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def size_of(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)


def database_error(operation: str, exc: psycopg.Error) -> ClientError:
    diag = exc.diag
    message = f"ERROR: {diag.message_primary or str(exc).strip()}"
    if diag.message_detail:
        message += f"\n  Detail: {diag.message_detail}"
    if diag.statement_position:
        message += f"\n  Position: {diag.statement_position}"
    if diag.sqlstate:
        message += f"; SQLState: {diag.sqlstate}"
    return client_error(operation, "DatabaseErrorException", message)


def parameter_value(operation: str, parameter: dict[str, Any]) -> Any:
    """The Python value psycopg binds for one SqlParameter, typed as the Data API would type it."""
    name, value, hint = parameter["name"], parameter.get("value", {}), parameter.get("typeHint")
    if not value or value.get("isNull"):
        return None
    if "arrayValue" in value:
        raise client_error(operation, "BadRequestException", f"Array parameters are not supported: {name}")
    ((kind, raw),) = value.items()
    if hint is not None and hint not in TYPE_HINTS:  # botocore does not check enums; the service does
        raise client_error(
            operation, "ValidationException", f"typeHint {hint!r} of {name} is not one of {sorted(TYPE_HINTS)}"
        )
    if hint and kind != "stringValue":
        raise client_error(operation, "BadRequestException", f"typeHint {hint} needs a stringValue: {name}")
    if kind == "stringValue" and _has_lone_surrogate(raw):
        # botocore escapes it as \udXXX; AWS's JSON parser refuses text that is not valid Unicode.
        raise client_error(operation, "BadRequestException", f"Parameter {name}: the string is not valid Unicode")
    if kind == "longValue" and not INT64_MIN <= raw <= INT64_MAX:
        raise client_error(operation, "ValidationException", f"Parameter {name}: longValue is a 64-bit integer")
    if kind == "doubleValue" and not math.isfinite(raw):
        raise client_error(operation, "SerializationException", f"Parameter {name}: NaN/Infinity is not JSON")
    if kind == "stringValue" and "\x00" in raw:
        # PostgreSQL text cannot hold NUL: the server refuses it (it is never silently truncated).
        raise client_error(
            operation,
            "DatabaseErrorException",
            'ERROR: invalid byte sequence for encoding "UTF8": 0x00; SQLState: 22021',
        )
    try:
        if kind == "stringValue":
            return _hinted(raw, hint)
    except (ValueError, ArithmeticError) as exc:  # decimal.InvalidOperation is an ArithmeticError
        raise client_error(
            operation, "BadRequestException", f"Parameter {name}: {raw!r} is not a valid {hint}: {exc}"
        ) from None
    if kind == "blobValue":  # botocore sends a str blob as its UTF-8 bytes
        return raw.encode() if isinstance(raw, str) else bytes(raw)
    return raw


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _hinted(raw: str, hint: str | None) -> Any:
    if hint is None:
        return Varchar(raw)
    if hint == "DECIMAL":
        number = Decimal(raw)
        if not number.is_finite():
            raise ValueError("not a finite number")
        return number
    if hint == "UUID":
        return uuid.UUID(raw)
    if hint == "JSON":
        json.loads(raw)
        return JsonText(raw)
    if hint == "DATE":
        return dt.date.fromisoformat(raw) if len(raw) == 10 else _bad_format("YYYY-MM-DD")
    if hint == "TIMESTAMP":
        if not _TIMESTAMP_FORMAT.fullmatch(raw):
            _bad_format("YYYY-MM-DD HH:MM:SS[.FFF]")
        return parse_timestamp(raw)
    if hint == "TIME":
        if not _TIME_FORMAT.fullmatch(raw):
            _bad_format("HH:MM:SS[.FFF]")
        return dt.time.fromisoformat(raw)
    raise ValueError(f"unknown typeHint {hint}")


_FRACTION = rf"(\.\d{{1,{TIMESTAMP_FRACTION_DIGITS}}})?"
_TIMESTAMP_FORMAT = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}{_FRACTION}")
_TIME_FORMAT = re.compile(rf"\d{{2}}:\d{{2}}:\d{{2}}{_FRACTION}")


def _bad_format(expected: str) -> Any:
    raise ValueError(f"expected {expected}")


def to_field(value: Any, type_name: str) -> dict[str, Any]:
    """One Data API result field for a value psycopg loaded from a column of `type_name`."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, list):
        return {"arrayValue": _to_array(value)}
    return {_scalar_kind(value): _scalar(value)}


def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "booleanValue"
    if isinstance(value, int):
        return "longValue"
    if isinstance(value, float):
        return "doubleValue" if math.isfinite(value) else "stringValue"
    if isinstance(value, (bytes, memoryview)):
        return "blobValue"
    return "stringValue"


def _scalar(value: Any) -> Any:
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, "NaN")
    if isinstance(value, (bytes, memoryview)):
        return bytes(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, dt.datetime):
        return format_timestamp(value, 6)
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, dt.time):
        return format_time(value, 6)
    return str(value)


def _to_array(values: list[Any]) -> dict[str, Any]:
    if any(isinstance(v, list) for v in values):
        raise UnsupportedResult("The result contains a multidimensional array, which the Data API does not support")
    kinds = {_scalar_kind(v) for v in values if v is not None}
    kind = kinds.pop() if len(kinds) == 1 else "stringValue"
    return {f"{kind}s": [None if v is None else _scalar(v) for v in values]}


def column_metadata(name: str, type_name: str, column: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "typeName": type_name,
        "type": _JDBC_TYPES.get(type_name, 2003 if type_name.startswith("_") else _OTHER_JDBC_TYPE),
        "precision": column.precision or column.internal_size or 0,
        "scale": column.scale or 0,
        "nullable": 2,  # columnNullableUnknown: PostgreSQL does not report it for results
        "isSigned": type_name in ("int2", "int4", "int8", "float4", "float8", "numeric"),
        "isAutoIncrement": False,
        "isCurrency": type_name == "money",
        "isCaseSensitive": type_name in ("text", "varchar", "bpchar", "name"),
        "schemaName": "",
        "tableName": "",
        "arrayBaseColumnType": 0,
    }


def format_json(rows: list[tuple], columns: list[tuple[str, str, Any]]) -> str:
    def plain(value: Any, type_name: str) -> Any:
        if value is None or isinstance(value, (bool, int, str)):
            return json.loads(value) if type_name in ("json", "jsonb") and isinstance(value, str) else value
        if isinstance(value, float):
            return value if math.isfinite(value) else _scalar(value)
        if isinstance(value, list):
            return [plain(v, type_name[1:]) for v in value]
        if isinstance(value, (bytes, memoryview)):
            return base64.b64encode(bytes(value)).decode()
        return _scalar(value)

    return json.dumps(
        [{name: plain(v, t) for v, (name, t, _) in zip(row, columns, strict=True)} for row in rows],
        separators=(",", ":"),
    )


def check_single_statement(operation: str, sql: str) -> None:
    try:
        statements = count_statements(sql)
    except ValueError as exc:
        raise client_error(operation, "DatabaseErrorException", f"ERROR: {exc}") from None
    if statements > 1:
        raise client_error(operation, "ValidationException", "Multistatements aren't supported.")
    if statements == 0:
        raise client_error(operation, "BadRequestException", "SQL statement is empty")


def bind(operation: str, sql: str, parameters: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """Turn ``:name`` placeholders into psycopg ``%s`` and parameters into typed Python values."""
    by_name: dict[str, Any] = {}
    for parameter in parameters:
        name = parameter.get("name")
        if not name:
            raise client_error(operation, "BadRequestException", "Parameter name is required")
        by_name[name] = parameter_value(operation, parameter)
    placeholders = find_placeholders(sql)
    if not placeholders:
        return sql, []  # psycopg formats nothing without parameters: '%' stays as written
    parts, values, position = [], [], 0
    for start, end, name in placeholders:
        if name not in by_name:
            raise client_error(operation, "BadRequestException", f"No value specified for parameter: {name}")
        parts.append(sql[position:start].replace("%", "%%"))
        parts.append("%s")
        values.append(by_name[name])
        position = end
    parts.append(sql[position:].replace("%", "%%"))
    return "".join(parts), values


def rows_updated(cur: psycopg.Cursor) -> int:
    status = (cur.statusmessage or "").split()
    if not status or status[0] not in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        return 0
    return max(cur.rowcount, 0)


def wire_size(value: Any) -> int:
    """Bytes a value takes in the JSON response body (UTF-8; blobs as base64)."""
    if isinstance(value, (bytes, bytearray)):
        return (len(value) + 2) // 3 * 4 + 2
    return len(json.dumps(value, ensure_ascii=False, default=size_of).encode())


def check_row_sizes(operation: str, records: list[list[dict[str, Any]]]) -> None:
    """Each row of a result set must be at most 64 KB (Aurora user guide, "Data API limitations")."""
    for number, row in enumerate(records, start=1):
        size = sum(wire_size(next(iter(f.values()))) for f in row)
        if size > MAX_ROW_BYTES:
            raise client_error(
                operation,
                "UnsupportedResultException",
                f"Row {number} of the result is {size} bytes; the Data API returns rows of at most "
                f"{MAX_ROW_BYTES} bytes",
            )


def check_response_size(operation: str, response: dict[str, Any]) -> None:
    size = wire_size(response.get("records") or response.get("formattedRecords") or [])
    if size > MAX_RESPONSE_BYTES:
        raise client_error(
            operation, "BadRequestException", "Database returned more than the allowed response size limit"
        )


def check_request(operation: str, request: dict[str, Any]) -> None:
    """`sql` at most 65,536 characters; the whole request at most 4 MiB (the Data API reference)."""
    sql = request.get("sql")
    if sql is not None and len(sql) > MAX_SQL_CHARS:
        raise client_error(
            operation,
            "ValidationException",
            f"1 validation error detected: Value at 'sql' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_SQL_CHARS}",
        )
    try:
        size = request_body_bytes(request) + ENGINE_HEADER_BYTES
    except TypeError as exc:
        raise client_error(operation, "SerializationException", str(exc)) from None
    if size > MAX_REQUEST_BYTES:
        raise client_error(
            operation,
            "ValidationException",
            f"Request size {size} bytes exceeded the limit of {MAX_REQUEST_BYTES} bytes",
            status=413,
        )


# Aurora PostgreSQL with rds.restrict_password_commands = 1 (this stack's cluster parameter group):
# "must be a member of rds_password to alter passwords" for CREATE/ALTER ROLE ... PASSWORD,
# VALID UNTIL and ALTER ROLE ... RENAME. AWS: Aurora User Guide, "Restricting password management".
_ROLE_WORDS = re.compile(r"\b(role|user)\b", re.IGNORECASE)
PASSWORD_OPTIONS = {"password", "validUntil"}
RESTRICTED_PASSWORD_MESSAGE = "ERROR: must be a member of rds_password to alter passwords; SQLState: 42501"


def is_password_command(sql: str) -> bool:
    """CREATE/ALTER ROLE|USER with PASSWORD or VALID UNTIL, or a role RENAME (as PostgreSQL parses it)."""
    return _is_password_command_cached(sql) if len(sql) <= CACHED_SQL_CHARS else _is_password_command(sql)


def _is_password_command(sql: str) -> bool:
    if not _ROLE_WORDS.search(sql):  # the parser only for statements that can be one
        return False
    from pglast import ast, parse_sql
    from pglast.enums import ObjectType
    from pglast.parser import ParseError

    try:
        statements = parse_sql(sql)
    except ParseError:
        return False  # the server reports the syntax error
    for raw in statements:
        node = raw.stmt
        options = (
            getattr(node, "options", None) or () if isinstance(node, (ast.CreateRoleStmt, ast.AlterRoleStmt)) else ()
        )
        if any(option.defname in PASSWORD_OPTIONS for option in options):
            return True
        if isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_ROLE:
            return True
    return False


_is_password_command_cached = functools.lru_cache(maxsize=1024)(_is_password_command)
