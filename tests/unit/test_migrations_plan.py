"""Migration files and planning, without a database: names, sequence, SQL validity, checksums."""

from __future__ import annotations

from pathlib import Path

import pytest

from alex_db.authoring.migration_files import discover, split_statements
from alex_db.deploy.plan import AppliedMigration, Migration, plan
from alex_db.errors import ChecksumMismatch, MigrationFileError, OutOfOrderMigration
from tests.conftest import MIGRATIONS_DIR


def migration(version: int, checksum: str = "a" * 64) -> Migration:
    return Migration(version, f"m{version}", f"{version:04d}_m{version}.sql", checksum, ("SELECT 1",), (1,))


def applied(version: int, checksum: str = "a" * 64) -> AppliedMigration:
    return AppliedMigration(version, f"m{version}", checksum)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_repository_migrations_are_valid():
    initial, course = discover(MIGRATIONS_DIR)
    assert (course.version, course.name) == (2, "course_vocabularies")
    assert (initial.version, initial.name) == (1, "initial_schema")
    assert len(initial.statements) == 16  # 5 tables, 5 indexes, 1 function, 5 triggers
    assert any("$$" in s and "NEW.updated_at = NOW();" in s for s in initial.statements)


def test_split_keeps_dollar_quotes_strings_and_comments_with_semicolons():
    sql = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x text DEFAULT 'a;b');\n"
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n"
        "/* block; comment */ SELECT ';';\n"
    )
    statements, lines = split_statements(sql, "0001_x.sql")
    assert len(statements) == 3
    assert statements[1].endswith("$body$ SELECT 1; $body$ LANGUAGE sql")
    assert lines == (2, 3, 4)


def test_syntax_error_names_file_line_and_column():
    with pytest.raises(MigrationFileError, match=r"0002_broken.sql:3:8: syntax error at or near \"TABEL\""):
        split_statements("SELECT 1;\n\nCREATE TABEL users (id int);\n", "0002_broken.sql")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_short.sql": "SELECT 1;"}, "named NNNN_snake_case_name.sql"),
        ({"0001_Bad-Name.sql": "SELECT 1;"}, "named NNNN_snake_case_name.sql"),
        (
            {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"},
            "duplicate migration version.*0001: 0001_a.sql, 0001_b.sql",
        ),
        ({"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"}, r"without gaps; missing 0002 \(after 0001_a.sql\)"),
        ({"0002_b.sql": "SELECT 1;"}, r"missing 0001 \(before 0002_b.sql\)"),
        # A 0000 file used to give "missing " followed by nothing: the file is named, with the fix.
        ({"0000_x.sql": "SELECT 1;", "0001_a.sql": "SELECT 1;"}, r"0000_x.sql: versions start at 0001"),
        ({"0001_a.sql": "-- nothing\n"}, "contains no SQL statement"),
        ({"0001_a.sql": "SELECT 1;", "notes.txt": "x"}, "unexpected file.*notes.txt"),
    ],
)
def test_bad_migration_directories_fail_loudly(tmp_path, files, message):
    with pytest.raises(MigrationFileError, match=message):
        discover(write(tmp_path / "migrations", files))


def test_checksum_is_of_the_file_bytes(tmp_path):
    directory = write(tmp_path / "m", {"0001_a.sql": "SELECT 1;\n"})
    before = discover(directory)[0].checksum
    (directory / "0001_a.sql").write_text("SELECT 1; -- edited\n")
    assert discover(directory)[0].checksum != before


def test_plan_pending_in_order():
    result = plan([applied(1)], [migration(1), migration(2), migration(3)])
    assert [m.version for m in result.pending] == [2, 3]
    assert not result.database_ahead


def test_plan_nothing_pending():
    assert plan([applied(1)], [migration(1)]).pending == ()


def test_plan_rejects_an_edited_applied_migration():
    with pytest.raises(
        ChecksumMismatch, match=r"migration 0001 \(0001_m1.sql\) was applied with checksum aaaaaaaaaaaa"
    ):
        plan([applied(1, "a" * 64)], [migration(1, "b" * 64)])


def test_plan_reports_a_database_ahead_of_the_files():
    result = plan([applied(1), applied(2)], [migration(1)])
    assert result.database_ahead and result.unknown_applied == (2,) and result.pending == ()


def test_plan_rejects_out_of_order_migrations():
    with pytest.raises(OutOfOrderMigration, match=r"0002_m2\.sql are older than the newest applied version 0003"):
        plan([applied(1), applied(3)], [migration(1), migration(2), migration(3)])
