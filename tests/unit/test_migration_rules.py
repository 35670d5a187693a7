"""Migrations that could half-apply are refused when the files are read (synth, make local): file:line and why."""

from __future__ import annotations

import pytest

from alex_db.authoring.migration_files import discover, read_migration
from alex_db.errors import MigrationFileError
from alex_db.limits import MAX_SQL_CHARS

HEADER = "-- adds a table\nCREATE TABLE t (id int, a int[], n int);\n"


def migration_with(tmp_path, sql: str, name: str = "0001_x.sql"):
    path = tmp_path / name
    path.write_text(HEADER + sql)
    return read_migration(path)


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("BEGIN;", "BEGIN: transaction control"),
        ("START TRANSACTION;", "START TRANSACTION: transaction control"),
        ("COMMIT;", "COMMIT: transaction control"),
        ("END;", "END: transaction control"),
        ("ROLLBACK;", "ROLLBACK: transaction control"),
        ("SAVEPOINT s;", "SAVEPOINT: transaction control"),
        ("RELEASE SAVEPOINT s;", "RELEASE: transaction control"),
        ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION: transaction control"),
        ("CREATE INDEX CONCURRENTLY t_id ON t (id);", "CONCURRENTLY: PostgreSQL refuses it inside a transaction"),
        ("DROP INDEX CONCURRENTLY t_id;", "CONCURRENTLY: PostgreSQL refuses it"),
        ("REINDEX TABLE CONCURRENTLY t;", "REINDEX CONCURRENTLY/DATABASE/SYSTEM: PostgreSQL refuses it"),
        ("VACUUM t;", "VACUUM: PostgreSQL refuses it inside a transaction block"),
        ("CREATE DATABASE other;", "CREATE DATABASE: PostgreSQL refuses it"),
        ("DROP DATABASE other;", "DROP DATABASE: PostgreSQL refuses it"),
        ("CREATE TABLESPACE s LOCATION '/tmp';", "CREATE TABLESPACE: PostgreSQL refuses it"),
        ("ALTER SYSTEM SET work_mem = '8MB';", "ALTER SYSTEM: PostgreSQL refuses it"),
        ("COPY t FROM STDIN;", "COPY … FROM STDIN: the Data API has no COPY protocol"),
        ("SELECT a[1:n] FROM t;", ":n is a Data API parameter placeholder"),
    ],
)
def test_refused_statement_names_file_line_first_line_and_why(tmp_path, statement, why):
    with pytest.raises(MigrationFileError) as caught:
        migration_with(tmp_path, f"\n{statement}\n")
    message = str(caught.value)
    assert message.startswith(f"0001_x.sql:4: {why}")
    assert message.endswith(f"\n    {statement.rstrip(';')}")


def test_statements_allowed_in_a_transaction_pass(tmp_path):
    migration = migration_with(
        tmp_path,
        "ANALYZE t;\nCREATE INDEX t_id ON t (id);\nSELECT a[1: n], a[1:2], n::text FROM t;\n"
        "CREATE FUNCTION two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n",
    )
    assert len(migration.statements) == 5  # BEGIN ATOMIC … END is one statement, as the engine counts it


def test_statement_longer_than_the_data_api_accepts_is_refused(tmp_path):
    def select_of(length: int) -> str:
        return "SELECT '" + "x" * (length - 9) + "'"

    assert len(select_of(MAX_SQL_CHARS)) == MAX_SQL_CHARS
    assert migration_with(tmp_path, select_of(MAX_SQL_CHARS) + ";\n").statements[1] == select_of(MAX_SQL_CHARS)
    with pytest.raises(MigrationFileError, match=r"0001_x.sql:3: the statement is 65,537 characters; the Data API"):
        migration_with(tmp_path, select_of(MAX_SQL_CHARS + 1) + ";\n")


def test_every_problem_is_listed_at_once(tmp_path):
    with pytest.raises(MigrationFileError) as caught:
        migration_with(tmp_path, "COMMIT;\nVACUUM;\n")
    assert str(caught.value).count("0001_x.sql:") == 2


def test_bom_is_stripped_and_crlf_is_not_an_edit(tmp_path):
    lf = tmp_path / "lf"
    crlf = tmp_path / "crlf"
    for directory, data in ((lf, HEADER.encode()), (crlf, b"\xef\xbb\xbf" + HEADER.replace("\n", "\r\n").encode())):
        directory.mkdir()
        (directory / "0001_x.sql").write_bytes(data)
    (plain,), (windows,) = discover(lf), discover(crlf)
    assert windows.checksum == plain.checksum
    assert windows.statements == plain.statements and not windows.statements[0].startswith("\ufeff")
    (lf / "0001_x.sql").write_bytes(HEADER.replace("int,", "int ,").encode())
    assert discover(lf)[0].checksum != plain.checksum  # any other byte change still is an edit


def test_committed_files_are_pinned_to_lf():
    from tests.conftest import ROOT

    attributes = (ROOT / ".gitattributes").read_text()
    assert "*.sql text eol=lf" in attributes and "seed/*.json text eol=lf" in attributes


def marked(tmp_path, sql: str):
    path = tmp_path / "0003_idx.sql"
    path.write_text("-- alex-db: no-transaction\n" + sql)
    return read_migration(path)


def test_concurrently_in_an_ordinary_migration_points_to_the_marker(tmp_path):
    with pytest.raises(MigrationFileError, match="put it alone in a migration whose first line is `-- alex-db: no-tr"):
        migration_with(tmp_path, "CREATE INDEX CONCURRENTLY t_n ON t (n);\n")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_n ON t (n);",
        "DROP INDEX CONCURRENTLY IF EXISTS idx_n;",
        "REINDEX INDEX CONCURRENTLY idx_n;",
        "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';",
    ],
)
def test_a_marked_migration_holds_one_statement_that_needs_no_transaction(tmp_path, statement):
    migration = marked(tmp_path, statement + "\n")
    assert migration.non_transactional and migration.statements == (statement.rstrip(";"),)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        (
            "CREATE INDEX CONCURRENTLY a ON t (n);\nCREATE INDEX CONCURRENTLY b ON t (n);\n",
            "0003_idx.sql:3: a `-- alex-db: no-transaction` migration holds exactly one statement (it has 2)",
        ),
        (
            "ALTER TABLE t ADD COLUMN m int;\n",
            "this one runs in a transaction: remove the `-- alex-db: no-transaction`",
        ),
        ("CREATE INDEX CONCURRENTLY ON t (n);\n", "needs an index name: a failed build leaves an INVALID index"),
        ("VACUUM t;\n", "this one runs in a transaction"),
    ],
)
def test_a_marked_migration_refuses_what_it_cannot_recover(tmp_path, sql, why):
    with pytest.raises(MigrationFileError, match=why.replace("(", r"\(").replace(")", r"\)")):
        marked(tmp_path, sql)


def test_an_ordinary_migration_is_transactional(tmp_path):
    assert migration_with(tmp_path, "ALTER TABLE t ADD COLUMN m int;\n").non_transactional is False
