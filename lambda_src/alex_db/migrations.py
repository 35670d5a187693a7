"""Forward-only migrations: discover and split (pglast), checksum, plan (pure), apply (locked transactions).

`discover` needs pglast and runs at synth time or locally; the init Lambda receives the already
split statements in the manifest, so `plan` and `apply` need only the standard library.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient, DataApiError, first_line

FILENAME_PATTERN = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql$")
# One fixed key for every runner of this project: pg_advisory_xact_lock serialises them.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"alex_db.schema_migrations").digest()[:8], "big", signed=True)

CREATE_HISTORY_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    CHAR(64) NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL
)
""".strip()
HISTORY_EXISTS = "SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present"
READ_HISTORY = "SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version"
# First call of each migration's transaction: wait on the project's advisory lock, then claim the
# version. The claim is a new statement with a new snapshot, so a version that a concurrent runner
# committed while we waited conflicts and comes back empty (ON CONFLICT sees committed rows).
CLAIM = """
WITH lock AS (SELECT pg_advisory_xact_lock(:lock_key))
INSERT INTO schema_migrations (version, name, checksum, duration_ms)
SELECT :version, :name, :checksum, 0 FROM lock
ON CONFLICT (version) DO NOTHING
RETURNING version
""".strip()
APPLIED_CHECKSUM = "SELECT checksum FROM schema_migrations WHERE version = :version"
# Last call before commit: now() is the transaction's start, so the database measures the duration.
FINISH = """
UPDATE schema_migrations
SET duration_ms = (EXTRACT(EPOCH FROM clock_timestamp() - now()) * 1000)::int
WHERE version = :version
RETURNING duration_ms
""".strip()


class MigrationError(Exception):
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

    def __init__(self, migration: Migration, index: int, cause: DataApiError) -> None:
        self.version, self.statement_number, self.cause = migration.version, index + 1, cause
        line = migration.lines[index] if index < len(migration.lines) else 0
        super().__init__(
            f"migration {migration.version:04d} ({migration.filename}) failed at statement "
            f"{index + 1}/{len(migration.statements)} (line {line}: {first_line(migration.statements[index])}): "
            f"{cause.message}. The migration was rolled back; nothing of it was applied."
        )


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    filename: str
    checksum: str
    statements: tuple[str, ...]
    lines: tuple[int, ...]  # 1-based line in the file where each statement starts

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "statements": list(self.statements), "lines": list(self.lines)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Migration:
        return cls(
            version=int(data["version"]),
            name=data["name"],
            filename=data["filename"],
            checksum=data["checksum"],
            statements=tuple(data["statements"]),
            lines=tuple(data.get("lines") or [0] * len(data["statements"])),
        )


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str


@dataclass(frozen=True)
class Plan:
    pending: tuple[Migration, ...]
    # Applied versions this set of files does not know: the database is ahead of this code
    # (e.g. CloudFormation rolling back to an older template). Nothing may run "backwards".
    unknown_applied: tuple[int, ...]

    @property
    def database_ahead(self) -> bool:
        return bool(self.unknown_applied)


# -- files (pglast; synth time and local) ----------------------------------------------------


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_statements(sql: str, filename: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Statements and their starting lines, split by PostgreSQL's own parser; errors name file:line."""
    import pglast
    from pglast.parser import ParseError

    try:
        slices = pglast.split(sql, only_slices=True)
    except ParseError as exc:
        index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line = sql.count("\n", 0, index) + 1
        column = index - (sql.rfind("\n", 0, index) + 1) + 1
        source = sql.splitlines()[line - 1].strip() if sql.splitlines() else ""
        raise MigrationFileError(f"{filename}:{line}:{column}: {exc.args[0]}\n    {source}") from None
    statements = tuple(sql[s] for s in slices)
    lines = tuple(sql.count("\n", 0, s.start) + 1 for s in slices)
    if not statements:
        raise MigrationFileError(f"{filename}: contains no SQL statement")
    return statements, lines


def read_migration(path: Path) -> Migration:
    match = FILENAME_PATTERN.match(path.name)
    if not match:
        raise MigrationFileError(
            f"{path.name}: migration files are named NNNN_snake_case_name.sql (e.g. 0002_add_watchlists.sql)"
        )
    data = path.read_bytes()
    try:
        sql = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationFileError(f"{path.name}: not UTF-8 ({exc})") from None
    statements, lines = split_statements(sql, path.name)
    return Migration(int(match["version"]), match["name"], path.name, checksum(data), statements, lines)


def discover(directory: str | Path) -> list[Migration]:
    """Every migration in `directory`, validated: names, versions 1..N without gaps or duplicates, SQL."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MigrationFileError(f"migrations directory {directory} does not exist")
    stray = sorted(p.name for p in directory.iterdir() if p.is_file() and p.suffix != ".sql" and p.name != "README.md")
    if stray:
        raise MigrationFileError(f"{directory}: unexpected file(s) {', '.join(stray)}; only NNNN_name.sql belong here")
    migrations = [read_migration(p) for p in sorted(directory.glob("*.sql"))]
    by_version: dict[int, list[str]] = {}
    for m in migrations:
        by_version.setdefault(m.version, []).append(m.filename)
    duplicates = {v: names for v, names in by_version.items() if len(names) > 1}
    if duplicates:
        raise MigrationFileError(
            "duplicate migration version(s): " + "; ".join(f"{v:04d}: {', '.join(n)}" for v, n in duplicates.items())
        )
    expected = list(range(1, len(migrations) + 1))
    versions = sorted(by_version)
    if versions != expected:
        missing = sorted(set(range(1, max(versions, default=0) + 1)) - set(versions))
        raise MigrationFileError(
            f"migration versions must run 0001..{len(migrations):04d} without gaps; missing "
            + ", ".join(f"{v:04d}" for v in missing)
        )
    return sorted(migrations, key=lambda m: m.version)


# -- plan (pure) -----------------------------------------------------------------------------


def plan(applied: Iterable[AppliedMigration], available: Sequence[Migration]) -> Plan:
    """Pending migrations in order; ChecksumMismatch if an applied file changed."""
    applied_by_version = {a.version: a for a in applied}
    known = {m.version: m for m in available}
    for version, record in sorted(applied_by_version.items()):
        migration = known.get(version)
        if migration is not None and migration.checksum != record.checksum:
            raise ChecksumMismatch(version, migration.filename, record.checksum, migration.checksum)
    unknown = tuple(sorted(v for v in applied_by_version if v not in known))
    pending = tuple(m for m in available if m.version not in applied_by_version)
    newest_applied = max(applied_by_version, default=0)
    late = [m for m in pending if m.version < newest_applied]
    if late and not unknown:
        raise OutOfOrderMigration(
            f"migration(s) {', '.join(m.filename for m in late)} are older than the newest applied "
            f"version {newest_applied:04d}; renumber them after it"
        )
    return Plan(pending=pending, unknown_applied=unknown)


# -- database --------------------------------------------------------------------------------


def read_applied(client: DataApiClient) -> list[AppliedMigration]:
    """The history table's rows; creates the table on a fresh database."""
    try:
        rows = client.query(READ_HISTORY)
    except DataApiError as exc:
        # undefined_table: a fresh database (the Data API puts the SQLState at the message's end)
        if "42P01" not in exc.message and 'relation "schema_migrations" does not exist' not in exc.message:
            raise
        try:
            client.execute(CREATE_HISTORY_TABLE)
        except DataApiError:
            # Concurrent `CREATE TABLE IF NOT EXISTS` can still collide (23505, 42P07 or 42710 on
            # its row type); what matters is whether the table exists now, not which error it was.
            if not client.query_one(HISTORY_EXISTS)["present"]:
                raise
        return []
    return [AppliedMigration(r["version"], r["name"], r["checksum"].strip()) for r in rows]


@dataclass(frozen=True)
class AppliedResult:
    version: int
    name: str
    statements: int
    duration_ms: int
    skipped: bool = False  # another runner applied it while this one waited for the lock


def apply(
    client: DataApiClient,
    migrations: Sequence[Migration],
    *,
    progress: Callable[[str], None] = print,
) -> list[AppliedResult]:
    """Apply each migration in its own transaction under the project's advisory lock."""
    results = []
    for migration in migrations:
        key = {"version": migration.version}
        with client.transaction() as tx:
            claimed = tx.query_one(CLAIM, {"lock_key": LOCK_KEY, **key, "name": migration.name,
                                           "checksum": migration.checksum})  # fmt: skip
            if claimed is None:  # a concurrent runner applied it while we waited for the lock
                other = (tx.query_one(APPLIED_CHECKSUM, key) or {}).get("checksum", "").strip()
                if other != migration.checksum:
                    raise ChecksumMismatch(migration.version, migration.filename, other, migration.checksum)
                result = AppliedResult(migration.version, migration.name, 0, 0, skipped=True)
            else:
                for index, statement in enumerate(migration.statements):
                    try:
                        tx.execute(statement)
                    except DataApiError as exc:
                        raise MigrationFailed(migration, index, exc) from exc
                finished = tx.query_one(FINISH, key) or {}
                result = AppliedResult(
                    migration.version, migration.name, len(migration.statements), finished.get("duration_ms", 0)
                )
        progress(_progress_line(result))
        results.append(result)
    return results


def _progress_line(result: AppliedResult) -> str:
    if result.skipped:
        return f"  {result.version:04d} {result.name}: already applied by a concurrent run, skipped"
    return f"  {result.version:04d} {result.name}: {result.statements} statements in {result.duration_ms} ms"
