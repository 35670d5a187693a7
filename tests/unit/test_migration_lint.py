"""squawk on migrations: unsafe patterns for a big table in use fail naming file:line and rule; new tables scoped."""

from __future__ import annotations

import shutil

import pytest

from alex_db.authoring.migration_files import discover
from alex_db.authoring.migration_lint import lint
from alex_db.errors import MigrationFileError
from tests.conftest import MIGRATIONS_DIR


@pytest.fixture
def migrations(tmp_path):
    directory = tmp_path / "migrations"
    directory.mkdir()
    for path in MIGRATIONS_DIR.iterdir():
        if path.suffix in (".sql", ".toml"):
            shutil.copy(path, directory / path.name)
    return directory


def lint_with(directory, sql: str) -> None:
    (directory / "0003_next.sql").write_text(sql)
    lint(directory, discover(directory))


def test_the_projects_migrations_pass():
    lint(MIGRATIONS_DIR, discover(MIGRATIONS_DIR))


@pytest.mark.parametrize(
    ("sql", "line", "rule"),
    [
        ("CREATE INDEX idx_positions_as_of ON positions (as_of_date);", 1, "require-concurrent-index-creation"),
        ("\nALTER TABLE jobs ADD COLUMN priority integer NOT NULL;", 2, "adding-required-field"),
        ("ALTER TABLE accounts ALTER COLUMN account_purpose TYPE varchar(500);", 1, "changing-column-type"),
        (
            "ALTER TABLE positions ADD CONSTRAINT p_fk FOREIGN KEY (symbol) REFERENCES instruments (symbol);",
            1,
            "adding-foreign-key-constraint",
        ),
        ("ALTER TABLE accounts ADD CONSTRAINT cash_ok CHECK (cash_balance >= 0);", 1, "constraint-missing-not-valid"),
    ],
)
def test_an_unsafe_pattern_on_an_existing_table_fails_naming_file_line_and_rule(migrations, sql, line, rule):
    with pytest.raises(MigrationFileError) as excinfo:
        lint_with(migrations, sql)
    assert f"0003_next.sql:{line}: squawk {rule}:" in str(excinfo.value)
    assert f"https://squawkhq.com/docs/{rule}" in str(excinfo.value)


def test_the_safe_forms_pass(migrations):
    lint_with(migrations, (
        "ALTER TABLE jobs ADD COLUMN priority integer;\n"
        "ALTER TABLE accounts ADD CONSTRAINT cash_ok CHECK (cash_balance >= 0) NOT VALID;\n"
    ))  # fmt: skip
    (migrations / "0004_validate.sql").write_text("ALTER TABLE accounts VALIDATE CONSTRAINT cash_ok;\n")
    lint(migrations, discover(migrations))


def test_rules_for_existing_tables_do_not_apply_to_a_table_created_in_the_same_migration(migrations):
    lint_with(migrations, (
        "CREATE TABLE watchlists (id uuid PRIMARY KEY, clerk_user_id varchar(255) NOT NULL);\n"
        "CREATE INDEX idx_watchlists_user ON watchlists (clerk_user_id);\n"
        "ALTER TABLE watchlists ADD COLUMN note text NOT NULL;\n"
    ))  # fmt: skip


def test_an_acknowledged_finding_passes_and_its_reason_is_required(migrations):
    statement = "CREATE INDEX idx_positions_as_of ON positions (as_of_date);\n"
    lint_with(migrations, "-- squawk-acknowledge require-concurrent-index-creation: positions holds < 10k rows "
                          "(one row per user and symbol), the build takes milliseconds\n" + statement)  # fmt: skip
    with pytest.raises(MigrationFileError, match=r"0003_next.sql:1: squawk-acknowledge .* needs a reason"):
        lint_with(migrations, "-- squawk-acknowledge require-concurrent-index-creation\n" + statement)


def test_a_stale_acknowledgment_fails(migrations):
    with pytest.raises(MigrationFileError, match="matches no finding of the statement below it"):
        lint_with(migrations, "-- squawk-acknowledge changing-column-type: this statement changes no type at all\n"
                              "ALTER TABLE jobs ADD COLUMN priority integer;\n")  # fmt: skip
    (migrations / "0003_next.sql").unlink()
    toml = migrations / "squawk_acknowledged.toml"
    toml.write_text(toml.read_text() + '\n[[acknowledged]]\nfile = "0001_initial_schema.sql"\nline = 3\n'
                    'rule = "ban-drop-table"\nreason = "an entry for a finding that does not exist"\n')  # fmt: skip
    with pytest.raises(MigrationFileError, match=r"0001_initial_schema.sql:3 ban-drop-table matches no finding"):
        lint(migrations, discover(migrations))


def test_a_concurrent_index_is_linted_outside_a_transaction(migrations):
    # The marked migration runs without a transaction: squawk's in-transaction rule does not apply.
    statement = "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_positions_as_of ON positions (as_of_date);\n"
    lint_with(migrations, "-- alex-db: no-transaction\n" + statement)


def test_without_squawk_synth_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr("sys.executable", "/nonexistent/bin/python")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MigrationFileError, match=r"squawk .* is not installed: pip install 'alex-db\[authoring\]'"):
        lint(MIGRATIONS_DIR, discover(MIGRATIONS_DIR))
