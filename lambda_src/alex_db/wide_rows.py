"""Read rows whose values can outgrow the Data API's 64 KB per row and 1 MiB per response.

A JSONB report or a long text cannot come back in one field: the first query returns every
bounded column, each unbounded value (text, json, jsonb, xml, bytea, unlimited varchar) inline
only when its wire size fits the row's share of the limits, and for the others their size and
md5. The values left out are then read as bytea pieces (exact byte sizes, so each response is
packed to the limit), pieces of different rows and columns sharing a call, and checked against
the md5 so a row updated between the calls is read again instead of being stitched together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from alex_db.errors import DataApiError
from alex_db.limits import MAX_RESPONSE_BYTES, MAX_ROW_BYTES
from alex_db.table_writes import quote_identifier

ROW_BUDGET = MAX_ROW_BYTES - 4 * 1024  # headroom for field and JSON overhead
RESPONSE_BUDGET = MAX_RESPONSE_BYTES - 16 * 1024
BOUNDED_FIELD_BYTES = 120  # a uuid, number, timestamp or short varchar with its JSON envelope
SIZE_FIELDS_BYTES = 90  # the wire size and md5 fields that accompany each unbounded column
PIECE_BYTES = (ROW_BUDGET - 200) // 4 * 3  # a bytea piece whose base64 fits in one row
PIECES_PER_CALL = RESPONSE_BUDGET // (PIECE_BYTES // 3 * 4 + 200)
PAGE_ROWS = 64  # list queries read at most this many rows per call
READ_ATTEMPTS = 3  # a value that keeps changing between the calls of one read is an error

Row = dict[str, Any]


def inline_limit(bounded: int, unbounded: int, rows: int) -> int:
    """Largest wire size of one unbounded value that still lets `rows` rows fit one row and one response."""
    per_row = min(ROW_BUDGET, RESPONSE_BUDGET // max(rows, 1))
    spare = per_row - bounded * BOUNDED_FIELD_BYTES - unbounded * SIZE_FIELDS_BYTES
    return max(spare // max(unbounded, 1), 0)


def _wire_expression(column: str, udt_name: str) -> str:
    quoted = quote_identifier(column)
    if udt_name == "bytea":
        return f"((octet_length({quoted}) + 2) / 3 * 4)"  # base64 in the response
    return f"octet_length(to_json({quoted}::text)::text)"  # a JSON string, escapes included


def _bytes_expression(column: str, udt_name: str, alias: str = "") -> str:
    quoted = f"{alias}{quote_identifier(column)}"
    return quoted if udt_name == "bytea" else f"convert_to({quoted}::text, 'UTF8')"


def select_rows(
    db: Any,
    table: str,
    *,
    where: str = "true",
    params: Mapping[str, Any] | None = None,
    order_by: str,
    key: str,
    limit: int | None = None,
    offset: int = 0,
) -> list[Row]:
    """`SELECT * FROM table WHERE … ORDER BY … LIMIT … OFFSET …`, whatever the size of its values."""
    for _attempt in range(READ_ATTEMPTS):
        rows, changed = _read(db, table, where, dict(params or {}), order_by, key, limit, offset)
        if not changed:
            return rows
    raise DataApiError(
        "ConcurrentUpdate",
        f"{table}: large value(s) changed during each of {READ_ATTEMPTS} reads",
        operation="select_rows",
    )


def _read(
    db: Any, table: str, where: str, params: dict[str, Any], order_by: str, key: str, limit: int | None, offset: int
) -> tuple[list[Row], bool]:
    columns = db.table_columns(table)
    unbounded = db.unbounded_columns(table)
    page = min(limit if limit is not None else PAGE_ROWS, PAGE_ROWS)
    inline = inline_limit(len(columns) - len(unbounded), len(unbounded), page)
    selected = []
    for name, udt_name in columns.items():
        quoted = quote_identifier(name)
        if name not in unbounded:
            selected.append(quoted)
            continue
        index = unbounded.index(name)
        wire, data = _wire_expression(name, udt_name), _bytes_expression(name, udt_name)
        selected += [
            f"CASE WHEN {wire} <= {inline} THEN {quoted} END AS {quoted}",
            f'CASE WHEN {wire} > {inline} THEN octet_length({data}) END AS "__size_{index}"',
            f'CASE WHEN {wire} > {inline} THEN md5({data}) END AS "__md5_{index}"',
        ]
    sql = (
        f"SELECT {', '.join(selected)} FROM {quote_identifier(table)} WHERE {where} "
        f"ORDER BY {order_by} LIMIT :__limit OFFSET :__offset"
    )
    rows: list[Row] = []
    while True:
        want = page if limit is None else min(page, limit - len(rows))
        batch = db.query(sql, {**params, "__limit": want, "__offset": offset + len(rows)})
        rows += batch
        if len(batch) < want or (limit is not None and len(rows) >= limit):
            break
    changed = _fill_large_values(db, table, key, columns, unbounded, rows)
    return rows, changed


def _fill_large_values(
    db: Any, table: str, key: str, columns: Mapping[str, str], unbounded: list[str], rows: list[Row]
) -> bool:
    """Read the values the first query left out, in packed bytea pieces; True if one changed meanwhile."""
    wanted = []  # (row index, column index, size, md5)
    for row_index, row in enumerate(rows):
        for index in range(len(unbounded)):
            size, digest = row.pop(f"__size_{index}"), row.pop(f"__md5_{index}")
            if size is not None:
                wanted.append((row_index, index, size, digest))
    if not wanted:
        return False
    pieces = [(r, c, start) for r, c, size, _ in wanted for start in range(1, size + 1, PIECE_BYTES)]
    branches = " ".join(
        f"WHEN {i} THEN {_bytes_expression(name, columns[name], 't.')}" for i, name in enumerate(unbounded)
    )
    sql = (
        f"SELECT w.n, substring(CASE w.c {branches} END FROM w.o FOR {PIECE_BYTES}) AS piece "
        f"FROM jsonb_to_recordset(CAST(:wanted AS jsonb)) AS w(n int, k text, c int, o int) "
        f"JOIN {quote_identifier(table)} t ON t.{quote_identifier(key)} = CAST(w.k AS {columns[key]}) ORDER BY w.n"
    )
    received: dict[tuple[int, int], list[bytes]] = {}
    for first in range(0, len(pieces), PIECES_PER_CALL):
        chunk = pieces[first : first + PIECES_PER_CALL]
        request = [{"n": first + n, "k": str(rows[r][key]), "c": c, "o": o} for n, (r, c, o) in enumerate(chunk)]
        result = db.query(sql, {"wanted": json.dumps(request)})
        if len(result) != len(chunk):
            return True  # the row was deleted (or its key changed) between the calls
        for (r, c, _), got in zip(chunk, result, strict=True):
            received.setdefault((r, c), []).append(got["piece"] or b"")
    for row_index, index, size, digest in wanted:
        data = b"".join(received[(row_index, index)])
        if len(data) != size or hashlib.md5(data, usedforsecurity=False).hexdigest() != digest:
            return True
        name = unbounded[index]
        rows[row_index][name] = _decode(columns[name], data)
    return False


def _decode(udt_name: str, data: bytes) -> Any:
    if udt_name == "bytea":
        return data
    text = data.decode("utf-8")
    return json.loads(text) if udt_name in ("json", "jsonb") else text
