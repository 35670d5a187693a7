"""Every exception alex_db raises, in one place (standard library only).

    AlexDbError
    ├── ConfigurationError        missing/inconsistent ARNs, database name, environment
    ├── ParameterError            a Python value the Data API cannot carry (names the parameter)
    ├── UnknownColumnError        a generic insert/update names a table or column that does not exist
    ├── DataApiError              a Data API call failed: AWS error code + the database's message
    │   ├── DatabaseNotReadyError the cluster stayed paused/unavailable for the whole retry budget
    │   └── ResultValueError      a result value Python cannot hold (infinity, BC or year > 9999 dates)
    ├── MigrationError            migrations: what, where (file:line, version) and what to do
    │   ├── MigrationFileError    misnamed, duplicated, missing, not UTF-8 or not valid SQL
    │   ├── ChecksumMismatch      an applied migration's file was edited afterwards
    │   ├── OutOfOrderMigration   a pending migration is older than the newest applied one
    │   ├── MigrationFailed       a statement failed; the migration was rolled back whole
    │   ├── TransactionEscaped    a statement ended the migration's transaction; nothing recorded
    │   ├── InterruptedMigration  history holds a version whose transaction was ended halfway
    │   └── ManifestMismatch      CloudFormation asked for a manifest this code does not bundle
    ├── SeedError                 seed or sample data the schemas reject (names file, row, field)
    └── ResetRefused              `alex-db reset` would drop what it cannot recreate; nothing dropped

ConfigurationError, ParameterError, UnknownColumnError and SeedError are also ValueErrors, so callers
that caught ValueError before keep working.
"""

from __future__ import annotations

from typing import Any


def first_line(sql: str | None, limit: int = 120) -> str:
    """The first non-blank line of a statement, shortened for error messages."""
    line = next((ln.strip() for ln in (sql or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


class AlexDbError(Exception):
    """Base of every alex_db error."""


class ConfigurationError(AlexDbError, ValueError):
    """Missing or inconsistent ARNs/database for the client."""


class ParameterError(AlexDbError, ValueError):
    """A Python value that cannot be sent as a Data API parameter (names the parameter)."""


class UnknownColumnError(AlexDbError, ValueError):
    """A generic insert/update/delete names a table or column the catalog does not have."""


class DataApiError(AlexDbError):
    """A Data API call failed: carries the AWS error code and the database's message."""

    def __init__(self, code: str, message: str, *, operation: str, sql: str | None = None) -> None:
        self.code, self.message, self.operation, self.sql = code, message, operation, sql
        where = f" running: {first_line(sql)}" if sql else ""
        super().__init__(f"{operation} failed ({code}): {message}{where}")


class DatabaseNotReadyError(DataApiError):
    """The cluster stayed paused/unavailable for the whole retry budget."""


class ResultValueError(DataApiError):
    """The database returned a value Python cannot represent (names the column and the value)."""


class MigrationError(AlexDbError):
    """Base of every migration problem; the message says what, where and what to do."""


class MigrationFileError(MigrationError):
    """A migration file is misnamed, duplicated, missing from the sequence or not valid SQL."""


class ChecksumMismatch(MigrationError):
    """An applied migration's file was edited afterwards (Flyway's validate error)."""

    def __init__(self, version: int, filename: str, applied: str, current: str) -> None:
        self.version = version
        super().__init__(
            f"migration {version:04d} ({filename}) was applied with checksum {applied[:12]}… but the file now "
            f"has {current[:12]}…: applied migrations must never be edited; restore the file and put the "
            f"change in a new migration"
        )


class OutOfOrderMigration(MigrationError):
    """A pending migration is older than one already applied."""


class MigrationFailed(MigrationError):
    """A statement failed; the migration's transaction was rolled back, nothing of it remains."""

    def __init__(self, migration: Any, index: int, cause: DataApiError) -> None:
        self.version, self.statement_number, self.cause = migration.version, index + 1, cause
        self.non_transactional = bool(getattr(migration, "non_transactional", False))
        line = migration.lines[index] if index < len(migration.lines) else 0
        super().__init__(
            f"migration {migration.version:04d} ({migration.filename}) failed at statement "
            f"{index + 1}/{len(migration.statements)} (line {line}: {first_line(migration.statements[index])}): "
            f"{cause.message}. "
            + (
                "It ran outside a transaction (no-transaction migration): a failed concurrent build leaves an "
                "INVALID index, which the next run drops and builds again; the version is not recorded as applied."
                if self.non_transactional
                else "The migration was rolled back; nothing of it was applied."
            )
        )


class TransactionEscaped(MigrationError):
    """A migration's statements ended its transaction (COMMIT/ROLLBACK inside the file)."""

    def __init__(self, migration: Any) -> None:
        self.migration = migration
        super().__init__(
            f"{migration.filename}: a statement ended the migration's own transaction (transaction control in "
            f"the file?); version {migration.version:04d} was NOT recorded as applied, and what ran before that "
            f"statement may be committed: inspect the schema and repair it by hand before deploying again"
        )


class InterruptedMigration(MigrationError):
    """schema_migrations holds versions whose transaction was ended halfway; they are not applied."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        super().__init__(
            f"schema_migrations marks {', '.join(labels)} as interrupted (a statement ended its transaction, "
            f"so part of it may be committed); repair the schema by hand, then DELETE its schema_migrations row"
        )


class MigrationStillRunning(MigrationError):
    """A no-transaction migration's statement outlived this run's time; it goes on in the database."""

    def __init__(self, running: str, message: str | None = None) -> None:
        self.running = running
        super().__init__(
            message
            or f"migration {running}; it goes on in the database (continueAfterTimeout). Watch it with "
            f"`alex-db status`; the next deploy or `alex-db migrate` waits for it and records it, "
            f"without running it twice"
        )


class ManifestMismatch(MigrationError):
    """CloudFormation asked for a manifest this code does not bundle, and the database lacks it."""


class SeedError(AlexDbError, ValueError):
    """Seed or sample data that the schemas reject; the message names file, row and field."""


class ResetRefused(AlexDbError):
    """`alex-db reset` would drop something it cannot recreate (names it); nothing was dropped."""
