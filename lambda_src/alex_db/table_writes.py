"""Generic table writes (insert/update/delete by dict) for clients and transactions; names checked against the schema.

Column and table names come from callers (agents pass dicts), so they are never interpolated
unchecked: each must be an existing column of an existing table (alex_db.column_catalog: the
schema shipped with the package, the live catalog for anything it does not know). Values are
always parameters; a string sent to a uuid/numeric/date/timestamp/json column is converted to the
type the column needs (the course's client cast them in SQL instead).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from alex_db.codec import Json
from alex_db.column_catalog import ColumnCatalog
from alex_db.errors import UnknownColumnError


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

    _catalog: ColumnCatalog

    def table_columns(self, table: str, names: Iterable[str] = ()) -> dict[str, str]:
        """Column name -> PostgreSQL type name (udt_name) of `table`; {} if the table does not exist."""
        shape = self._catalog.shape(table, names)
        return shape.udt_names if shape else {}

    def bounded_row_bytes(self, table: str) -> int:
        """The most bytes the bounded columns of one row of `table` can take in a response."""
        shape = self._catalog.shape(table)
        return shape.bounded_bytes if shape else 0

    def unbounded_columns(self, table: str) -> list[str]:
        """The columns of `table` whose values have no size bound (text, jsonb, bytea, varchar without n, ...)."""
        shape = self._catalog.shape(table)
        return shape.unbounded if shape else []

    def insert(self, table: str, data: Mapping[str, Any], returning: str | None = None) -> Any:
        """INSERT one row; the `returning` column's value (UUIDs as str, as the course's client returned them)."""
        names = [*data, *([returning] if returning else [])]
        sql, params = insert_sql(table, self.table_columns(table, names), data, returning)
        rows = self.execute(sql, params).rows  # type: ignore[attr-defined]
        if returning is None or not rows:
            return None
        value = rows[0][returning]
        return str(value) if isinstance(value, uuid.UUID) else value

    def update(
        self, table: str, data: Mapping[str, Any], where: str, where_params: Mapping[str, Any] | None = None
    ) -> int:
        """UPDATE the rows matching `where` (SQL with :named parameters from `where_params`); rows changed."""
        sql, params = update_sql(table, self.table_columns(table, data), data, where, where_params)
        return self.execute(sql, params).rowcount  # type: ignore[attr-defined]

    def delete(self, table: str, where: str, where_params: Mapping[str, Any] | None = None) -> int:
        """DELETE the rows matching `where`; rows deleted."""
        return self.execute(delete_sql(table, self.table_columns(table), where), where_params).rowcount  # type: ignore[attr-defined]
