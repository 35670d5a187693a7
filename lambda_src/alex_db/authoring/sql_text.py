"""SQL text as the Data API sees it: statement count and `:name` placeholders, via PostgreSQL's own scanner."""

from __future__ import annotations

import functools
import itertools

from pglast.parser import scan

COMMENTS = {"SQL_COMMENT", "C_COMMENT"}
# Agents send the same few statement texts again and again; scanning is a pure function of the text,
# so short texts are scanned once (a long text, e.g. with a literal payload, is scanned each time).
CACHED_SQL_CHARS = 8 * 1024


def scan_tokens(sql: str) -> list:
    try:
        return list(scan(sql))
    except Exception as exc:  # the scanner fails only on unterminated strings/comments
        raise ValueError(str(exc)) from None


def count_statements(sql: str) -> int:
    return _count_statements_cached(sql) if len(sql) <= CACHED_SQL_CHARS else _count_statements(sql)


def find_placeholders(sql: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, name) of each ``:name`` placeholder outside strings, comments and ``::`` casts."""
    return _find_placeholders_cached(sql) if len(sql) <= CACHED_SQL_CHARS else _find_placeholders(sql)


def _count_statements(sql: str) -> int:
    """Statements in `sql` as PostgreSQL's parser sees them (a trailing ';' adds none).

    The scanner's count of ';'-separated pieces is exact unless a ';' sits inside a
    ``BEGIN ATOMIC … END`` body; then the parser decides, as it does for migration files.
    """
    pieces = _count_pieces(sql)
    if pieces <= 1:
        return pieces
    from pglast.parser import ParseError, split

    try:
        return len(split(sql, only_slices=True))
    except ParseError:
        return pieces  # not valid SQL anyway; the server reports the syntax error


def _count_pieces(sql: str) -> int:
    statements, pending = 0, False
    for token in scan_tokens(sql):
        if token.name in COMMENTS:
            continue
        if token.name == "ASCII_59":
            statements += pending
            pending = False
        else:
            pending = True
    return statements + pending


def _find_placeholders(sql: str) -> tuple[tuple[int, int, str], ...]:
    tokens = scan_tokens(sql)
    found = []
    for colon, name in itertools.pairwise(tokens):
        if (
            colon.name == "ASCII_58"
            and name.start == colon.end + 1
            and (name.name == "IDENT" or name.kind != "NO_KEYWORD")
        ):
            found.append((colon.start, name.end + 1, sql[name.start : name.end + 1]))
    return tuple(found)


_count_statements_cached = functools.lru_cache(maxsize=1024)(_count_statements)
_find_placeholders_cached = functools.lru_cache(maxsize=1024)(_find_placeholders)
