"""Read rows whose values can outgrow the Data API's 64 KB per row and 1 MiB per response.

A JSONB report or a long text cannot come back in one field: the first query returns every
bounded column (pages sized from each column's declared worst case, never an average), each
unbounded value (text, json, jsonb, xml, bytea, unlimited varchar) inline only when its wire size
fits the row's share of the limits, and for the others their size and md5. The values left out are
then read as bytea pieces (exact byte sizes, so each response is packed to the limit), pieces of
different rows and columns sharing a call. A read of more than one call runs in one REPEATABLE READ
transaction, so every page and piece comes from the same snapshot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from alex_db.column_catalog import FIELD_ENVELOPE_BYTES
from alex_db.errors import DataApiError
from alex_db.limits import MAX_RESPONSE_BYTES, MAX_ROW_BYTES
from alex_db.table_writes import quote_identifier

ROW_BUDGET = MAX_ROW_BYTES - 4 * 1024  # headroom for field and JSON overhead
RESPONSE_BUDGET = MAX_RESPONSE_BYTES - 16 * 1024
SIZE_FIELDS_BYTES = 90  # the wire size and md5 fields that accompany each unbounded column
PIECE_BYTES = (ROW_BUDGET - 200) // 4 * 3  # a bytea piece whose base64 fits in one row
PIECES_PER_CALL = RESPONSE_BUDGET // (PIECE_BYTES // 3 * 4 + 200)
PAGE_ROWS = 64  # list queries read at most this many rows per call
READ_ATTEMPTS = 3  # outside a snapshot, a value that keeps changing between calls is an error
# A read that needs more than one call runs in one Data API transaction whose snapshot every call
# shares (PostgreSQL, "Transaction Isolation": REPEATABLE READ sees the database as of its first
# query). Must be the transaction's first statement.
SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

Row = dict[str, Any]
LEFT_OUT = "__left_out"  # the first query's column naming the values it left out


def inline_limit(bounded_bytes: int, unbounded: int, rows: int) -> int:
    """Largest wire size of one unbounded value that still lets `rows` rows fit one row and one response."""
    per_row = min(ROW_BUDGET, RESPONSE_BUDGET // max(rows, 1))
    spare = per_row - bounded_bytes - unbounded * SIZE_FIELDS_BYTES
    return max(spare // max(unbounded, 1), 0)


def page_rows(bounded_bytes: int, unbounded: int) -> int:
    """Rows per call such that the worst case of every bounded column still fits one response."""
    worst = bounded_bytes + unbounded * SIZE_FIELDS_BYTES
    return max(1, min(PAGE_ROWS, RESPONSE_BUDGET // max(worst, 1)))


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
    """`SELECT * FROM table WHERE … ORDER BY … LIMIT … OFFSET …`, whatever the size of its values, as
    one snapshot: no row twice and none skipped while other agents insert, update or delete.

    One call when the rows and their values fit one response (one statement is one snapshot);
    otherwise every page and every piece is read in one REPEATABLE READ transaction.
    """
    columns = db.table_columns(table)
    unbounded = db.unbounded_columns(table)
    bounded_bytes = db.bounded_row_bytes(table)
    page = page_rows(bounded_bytes, len(unbounded))
    if limit is not None:
        page = min(page, limit)
    sql = _select_sql(table, columns, unbounded, bounded_bytes, page, where, order_by, single_row=limit == 1)
    params = dict(params or {})
    # One more row than a page tells whether the first call saw everything.
    first = db.query(sql, {**params, "__limit": page if limit is not None else page + 1, "__offset": offset})
    complete = (limit is not None and limit <= page) or len(first) <= page
    if complete:
        # The rows are one statement's snapshot; values left out are read in pieces and checked
        # against that statement's md5, so a value rewritten meanwhile is read again, never stitched.
        if not _fill_large_values(db, table, key, columns, unbounded, first):
            return [_strip(row, len(unbounded)) for row in first]
        return _read_with_retries(db, table, key, sql, params, columns, unbounded, page, limit, offset, tries=2)
    if not hasattr(db, "transaction"):  # already inside the caller's transaction: its statements' snapshots
        return _read_with_retries(db, table, key, sql, params, columns, unbounded, page, limit, offset)
    with db.transaction() as tx:
        tx.execute(SNAPSHOT)
        rows = _read_pages(tx, sql, params, page, limit, offset)
        if _fill_large_values(tx, table, key, columns, unbounded, rows):  # cannot happen in one snapshot
            raise DataApiError(
                "ConcurrentUpdate", f"{table}: a value changed inside one snapshot", operation="select_rows"
            )
    return rows


def _select_sql(
    table: str,
    columns: Mapping[str, str],
    unbounded: list[str],
    bounded_bytes: int,
    page: int,
    where: str,
    order_by: str,
    single_row: bool = False,
) -> str:
    """The first query: every row of the page, each unbounded value inline where it fits, else its size and md5.

    A row whose unbounded values together fit one Data API row comes back whole, as long as the rows
    before it (at their real sizes) and the rows after it (at their worst case below) still fit one
    response: so a list of jobs with 3 KB reports is one call. Any other value comes back inline
    only when it is within the static per-value share (`inline_limit`), else as size and md5 for
    `_fill_large_values`. Sizes are measured in SQL (window functions over the page), never guessed.
    """
    quoted_table = quote_identifier(table)
    if not unbounded:
        return (
            f"SELECT {', '.join(map(quote_identifier, columns))} FROM {quoted_table} WHERE {where} "
            f"ORDER BY {order_by} LIMIT :__limit OFFSET :__offset"
        )
    fetched = page + 1  # a call reads one row more than a page, to see whether the page was the last
    inline = inline_limit(bounded_bytes, len(unbounded), fetched)
    per_row = min(ROW_BUDGET, RESPONSE_BUDGET // fetched)  # the most a row not sent whole weighs
    fixed = bounded_bytes + len(unbounded) * (SIZE_FIELDS_BYTES + FIELD_ENVELOPE_BYTES)
    row_spare = ROW_BUDGET - fixed
    # Each value's wire size is computed once, in the page query; the outer query only compares.
    wires = ", ".join(f'coalesce({_wire_expression(n, columns[n])}, 0) AS "__w{i}"' for i, n in enumerate(unbounded))
    wire = " + ".join(f'q."__w{i}"' for i in range(len(unbounded)))
    if single_row:  # one row always fits one response: only the row limit matters
        whole, numbered, order = f"{wire} <= {row_spare}", "", ""
    else:
        # A row's weight counted towards the response: its real size if it may be sent whole, else
        # the most its inline share can add. Counted for every earlier row whether or not it was
        # sent whole, so the sum only overestimates.
        weight = f"{fixed} + CASE WHEN {wire} <= {row_spare} THEN {wire} ELSE {len(unbounded) * inline} END"
        whole = (
            f'{wire} <= {row_spare} AND sum({weight}) OVER (ORDER BY q."__n") '
            f'+ (count(*) OVER () - row_number() OVER (ORDER BY q."__n")) * {per_row} <= {RESPONSE_BUDGET}'
        )
        numbered, order = f', row_number() OVER (ORDER BY {order_by}) AS "__n"', ' ORDER BY p."__n"'
    selected, left_out = [], []
    for name in columns:
        quoted = quote_identifier(name)
        if name not in unbounded:
            selected.append(quoted)
            continue
        index = unbounded.index(name)
        data = _bytes_expression(name, columns[name])
        sent = f'(p."__whole" OR p."__w{index}" <= {inline})'
        selected.append(f"CASE WHEN {sent} THEN {quoted} END AS {quoted}")
        left_out.append((sent, f"CASE WHEN NOT {sent} THEN json_build_array(octet_length({data}), md5({data})) END"))
    # One extra column for every value left out: [[size, md5] or null per unbounded column], or NULL
    # when the row came whole (fewer columns in each response than a size and an md5 column each).
    any_left_out = " OR ".join(f"NOT {sent}" for sent, _ in left_out)
    selected.append(
        f'CASE WHEN {any_left_out} THEN json_build_array({", ".join(e for _, e in left_out)})::text END AS "{LEFT_OUT}"'
    )
    page_sql = (
        f"SELECT {quoted_table}.*, {wires}{numbered} "
        f"FROM {quoted_table} WHERE {where} ORDER BY {order_by} LIMIT :__limit OFFSET :__offset"
    )
    return f'SELECT {", ".join(selected)} FROM (SELECT q.*, {whole} AS "__whole" FROM ({page_sql}) q) p{order}'


def _strip(row: Row, _unbounded: int) -> Row:
    row.pop(LEFT_OUT, None)
    return row


def _read_pages(db: Any, sql: str, params: dict[str, Any], page: int, limit: int | None, offset: int) -> list[Row]:
    rows: list[Row] = []
    while True:
        want = page if limit is None else min(page, limit - len(rows))
        batch = db.query(sql, {**params, "__limit": want, "__offset": offset + len(rows)})
        rows += batch
        if len(batch) < want or (limit is not None and len(rows) >= limit):
            return rows


def _read_with_retries(
    db: Any,
    table: str,
    key: str,
    sql: str,
    params: dict[str, Any],
    columns: Mapping[str, str],
    unbounded: list[str],
    page: int,
    limit: int | None,
    offset: int,
    tries: int = READ_ATTEMPTS,
) -> list[Row]:
    for _attempt in range(tries):
        rows = _read_pages(db, sql, params, page, limit, offset)
        if not _fill_large_values(db, table, key, columns, unbounded, rows):
            return rows
    raise DataApiError(
        "ConcurrentUpdate",
        f"{table}: large value(s) changed during each of {READ_ATTEMPTS} reads",
        operation="select_rows",
    )


def _fill_large_values(
    db: Any, table: str, key: str, columns: Mapping[str, str], unbounded: list[str], rows: list[Row]
) -> bool:
    """Read the values the first query left out, in packed bytea pieces; True if one changed meanwhile."""
    wanted = []  # (row index, column index, size, md5)
    for row_index, row in enumerate(rows):
        marker = row.pop(LEFT_OUT, None)
        if marker is None:
            continue
        left_out = json.loads(marker)
        for index in range(len(unbounded)):
            if left_out[index] is not None:
                size, digest = left_out[index]
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
