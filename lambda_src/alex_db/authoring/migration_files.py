"""Read migration files: names, versions without gaps, UTF-8, split into statements by PostgreSQL's parser.

Text is read as Flyway reads it: a leading UTF-8 byte-order mark is dropped and CRLF/CR line
endings become LF before splitting and hashing, so a Windows checkout of an applied migration is
not an edit (`.gitattributes` pins *.sql to LF as well); any other changed byte still is.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from alex_db.authoring.migration_rules import NON_TRANSACTIONAL_MARKER, check_statements
from alex_db.deploy.plan import Migration
from alex_db.errors import MigrationFileError

FILENAME_PATTERN = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql$")
# Files that may sit next to the migrations: documentation and the committed schema snapshot.
NON_MIGRATION_FILES = frozenset({"README.md", "schema_snapshot.json", "squawk_acknowledged.toml"})


BOM = "\ufeff"


def normalised_text(data: bytes, filename: str) -> str:
    """The file's SQL as hashed and applied: UTF-8, no byte-order mark, LF line endings."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MigrationFileError(f"{filename}: not UTF-8 ({exc})") from None
    return text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    sql = normalised_text(path.read_bytes(), path.name)
    statements, lines = split_statements(sql, path.name)
    non_transactional = sql.split("\n", 1)[0].strip() == NON_TRANSACTIONAL_MARKER
    check_statements(path.name, statements, lines, non_transactional=non_transactional)
    return Migration(
        int(match["version"]), match["name"], path.name, checksum(sql), statements, lines, non_transactional
    )


def discover(directory: str | Path) -> list[Migration]:
    """Every migration in `directory`, validated: names, versions 1..N without gaps or duplicates, SQL."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MigrationFileError(f"migrations directory {directory} does not exist")
    stray = sorted(
        p.name for p in directory.iterdir() if p.is_file() and p.suffix != ".sql" and p.name not in NON_MIGRATION_FILES
    )
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
    zero = by_version.get(0)
    if zero:
        raise MigrationFileError(
            f"{directory / zero[0]}: versions start at 0001; rename it to 0001_… (or the next free)"
        )
    versions = sorted(by_version)
    missing = sorted(set(range(1, max(versions, default=0) + 1)) - set(versions))
    if missing:
        after = {v: max((u for u in versions if u < v), default=None) for v in missing}
        where = "; ".join(
            f"{v:04d} (after {by_version[after[v]][0]})"
            if after[v]
            else f"{v:04d} (before {by_version[versions[0]][0]})"
            for v in missing
        )
        raise MigrationFileError(f"{directory}: migration versions must run 0001..{versions[-1]:04d} without gaps; "
                                 f"missing {where}")  # fmt: skip
    return sorted(migrations, key=lambda m: m.version)
