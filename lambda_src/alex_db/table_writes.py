"""Generic table writes (insert/update/delete by dict) for clients and transactions; names checked in the catalog.

Column and table names come from callers (agents pass dicts), so they are never interpolated
unchecked: each must be an existing column of an existing table, read from the catalog. Values are
always parameters; a string sent to a uuid/numeric/date/timestamp/json column is converted to the
type the column needs (the course's client cast them in SQL instead).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from alex_db.codec import Json
from alex_db.errors import UnknownColumnError

COLUMNS_SQL = """
SELECT column_name, udt_name, character_maximum_length, numeric_precision FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = :table
ORDER BY ordinal_position
"""
FIELD_ENVELOPE_BYTES = 24  # {"stringValue": ""} around a value, and the comma
# Worst-case characters of one value of a bounded type in a Data API response.
FIXED_WIDTH_CHARS = {
    "uuid": 36, "int2": 6, "int4": 11, "int8": 20, "float4": 16, "float8": 24, "bool": 5,
    "date": 13, "time": 18, "timetz": 24, "timestamp": 32, "timestamptz": 32, "interval": 64,
}  # fmt: skip
UNKNOWN_TYPE_CHARS = 1024  # enums, domains over bounded types, ranges: generous, never an average
BYTES_PER_CHAR = 6  # a JSON string escapes a control character as \u00XX; UTF-8 takes at most 4


def worst_case_bytes(udt_name: str, max_length: int | None, precision: int | None) -> int:
    """The most bytes one bounded value can take in a response (the declared size, never an average)."""
    if max_length is not None:
        chars = max_length
    elif udt_name == "numeric":
        chars = (precision or 1000) + 2  # sign and point; unconstrained numeric: 1000 digits assumed
    else:
        chars = FIXED_WIDTH_CHARS.get(udt_name, UNKNOWN_TYPE_CHARS)
    return chars * BYTES_PER_CHAR + FIELD_ENVELOPE_BYTES


# Types whose values have no size bound: a caller can make them outgrow a Data API row.
UNBOUNDED_TYPES = frozenset({"text", "json", "jsonb", "xml", "bytea", "varchar", "bpchar"})


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def checked_columns(table: str, columns: Mapping[str, str], names: list[str]) -> list[str]:
    """The names, each verified to be a column of `table`; one error listing every unknown name."""
    if not columns:
        raise UnknownColumnError(f"table {table!r} does not exist (or has no columns)")
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise UnknownColumnError(
            f"{table} has no column(s) {', '.join(map(repr, unknown))}; its columns are {', '.join(columns)}"
        )
    return names


def coerce(udt_name: str, value: Any, column: str) -> Any:
    """A value typed for its column: strings become UUID/Decimal/date/datetime/JSON where the column needs it."""
    if not isinstance(value, str):
        return value
    try:
        if udt_name == "uuid":
            return uuid.UUID(value)
        if udt_name == "numeric":
            return Decimal(value)
        if udt_name == "date":
            return dt.date.fromisoformat(value)
        if udt_name in ("timestamp", "timestamptz"):
            return dt.datetime.fromisoformat(value)
        if udt_name in ("json", "jsonb"):
            json.loads(value)
            return Json(value)
    except ValueError as exc:
        raise ValueError(f"column {column} ({udt_name}): {value!r} is not a valid value: {exc}") from None
    return value


def insert_sql(
    table: str, columns: Mapping[str, str], data: Mapping[str, Any], returning: str | None
) -> tuple[str, dict[str, Any]]:
    names = checked_columns(table, columns, list(data))
    if returning is not None:
        checked_columns(table, columns, [returning])
    params = {f"v{i}": coerce(columns[n], data[n], n) for i, n in enumerate(names)}
    sql = (
        f"INSERT INTO {quote_identifier(table)} ({', '.join(map(quote_identifier, names))}) "
        f"VALUES ({', '.join(':' + p for p in params)})"
        if names
        else f"INSERT INTO {quote_identifier(table)} DEFAULT VALUES"
    )
    if returning is not None:
        sql += f" RETURNING {quote_identifier(returning)}"
    return sql, params


def update_sql(
    table: str, columns: Mapping[str, str], data: Mapping[str, Any], where: str, where_params: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    names = checked_columns(table, columns, list(data))
    if not names:
        raise ValueError(f"update of {table}: no columns to set")
    if not where.strip():
        raise ValueError(f"update of {table}: a WHERE condition is required (use 'true' to update every row)")
    # Set values get their own parameter names, so they never collide with the WHERE clause's.
    params = {f"set_{i}": coerce(columns[n], data[n], n) for i, n in enumerate(names)}
    clash = set(params) & set(where_params or {})
    if clash:
        raise ValueError(f"update of {table}: WHERE parameter name(s) {sorted(clash)} are reserved")
    assignments = ", ".join(f"{quote_identifier(n)} = :{p}" for n, p in zip(names, params, strict=True))
    return f"UPDATE {quote_identifier(table)} SET {assignments} WHERE {where}", {**params, **(where_params or {})}


def delete_sql(table: str, columns: Mapping[str, str], where: str) -> str:
    checked_columns(table, columns, [])
    if not where.strip():
        raise ValueError(f"delete from {table}: a WHERE condition is required (use 'true' to delete every row)")
    return f"DELETE FROM {quote_identifier(table)} WHERE {where}"


class TableWrites:
    """insert/update/delete helpers for any object with `execute` and `query` (client or transaction)."""

    _column_cache: dict[str, dict[str, str]]
    _unbounded_cache: dict[str, list[str]]
    _bounded_bytes_cache: dict[str, int]

    def table_columns(self, table: str) -> dict[str, str]:
        """Column name -> PostgreSQL type name (udt_name) of `table`, read from the catalog once per client."""
        cache = self._column_cache
        if table not in cache:
            rows = self.query(COLUMNS_SQL, {"table": table})  # type: ignore[attr-defined]
            if not rows:  # not cached: the table may be created later (e.g. by a migration)
                return {}
            cache[table] = {r["column_name"]: r["udt_name"] for r in rows}
            self._unbounded_cache[table] = [
                r["column_name"]
                for r in rows
                if r["udt_name"] in UNBOUNDED_TYPES and r["character_maximum_length"] is None
            ]
            self._bounded_bytes_cache[table] = sum(
                worst_case_bytes(r["udt_name"], r["character_maximum_length"], r["numeric_precision"])
                for r in rows
                if r["column_name"] not in self._unbounded_cache[table]
            )
        return cache[table]

    def bounded_row_bytes(self, table: str) -> int:
        """The most bytes the bounded columns of one row of `table` can take in a response."""
        self.table_columns(table)
        return self._bounded_bytes_cache.get(table, 0)

    def unbounded_columns(self, table: str) -> list[str]:
        """The columns of `table` whose values have no size bound (text, jsonb, bytea, varchar without n, ...)."""
        self.table_columns(table)
        return list(self._unbounded_cache.get(table, []))

    def insert(self, table: str, data: Mapping[str, Any], returning: str | None = None) -> Any:
        """INSERT one row; the `returning` column's value (UUIDs as str, as the course's client returned them)."""
        sql, params = insert_sql(table, self.table_columns(table), data, returning)
        rows = self.execute(sql, params).rows  # type: ignore[attr-defined]
        if returning is None or not rows:
            return None
        value = rows[0][returning]
        return str(value) if isinstance(value, uuid.UUID) else value

    def update(
        self, table: str, data: Mapping[str, Any], where: str, where_params: Mapping[str, Any] | None = None
    ) -> int:
        """UPDATE the rows matching `where` (SQL with :named parameters from `where_params`); rows changed."""
        sql, params = update_sql(table, self.table_columns(table), data, where, where_params)
        return self.execute(sql, params).rowcount  # type: ignore[attr-defined]

    def delete(self, table: str, where: str, where_params: Mapping[str, Any] | None = None) -> int:
        """DELETE the rows matching `where`; rows deleted."""
        return self.execute(delete_sql(table, self.table_columns(table), where), where_params).rowcount  # type: ignore[attr-defined]
