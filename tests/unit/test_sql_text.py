"""Placeholder and statement detection use PostgreSQL's scanner, not regular expressions."""

from __future__ import annotations

import pytest

from alex_db.authoring.sql_text import count_statements, find_placeholders


def names(sql: str) -> list[str]:
    return [name for _, _, name in find_placeholders(sql)]


def test_placeholders_outside_strings_comments_and_casts():
    sql = "SELECT :a, ':b', $$ :c $$, $tag$ :d $tag$, x::text, :e::int /* :f */ -- :g\n, \":h\", arr[1:2]"
    assert names(sql) == ["a", "e"]


def test_keyword_named_placeholders():
    assert names("SELECT * FROM t WHERE type = :type LIMIT :limit") == ["type", "limit"]


@pytest.mark.parametrize(
    ("sql", "count"),
    [
        ("SELECT 1", 1),
        ("SELECT 1;", 1),
        ("SELECT 1; -- trailing comment", 1),
        ("SELECT ';'; ", 1),
        ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; SELECT 2; $$ LANGUAGE sql", 1),
        ("SELECT 1; SELECT 2", 2),
        ("", 0),
        ("-- only a comment", 0),
    ],
)
def test_statement_count(sql, count):
    assert count_statements(sql) == count
