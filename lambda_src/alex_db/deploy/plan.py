"""Which migrations are pending, applied, edited or unknown: pure decisions, no I/O.

`migration_states` is the one comparison of the database's history with the files; `plan` (what
to apply) and `alex-db status` (what to show) both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from alex_db.errors import ChecksumMismatch, OutOfOrderMigration

State = Literal["pending", "applied", "edited", "unknown"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    filename: str
    checksum: str
    statements: tuple[str, ...]
    lines: tuple[int, ...]  # 1-based line in the file where each statement starts
    # One statement run outside a transaction (CREATE INDEX CONCURRENTLY, ...): the file's first
    # line is `-- alex-db: no-transaction` (alex_db.authoring.migration_rules).
    non_transactional: bool = False

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
            non_transactional=bool(data.get("non_transactional", False)),
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


def migration_states(applied: Mapping[int, str], files: Mapping[int, Migration]) -> dict[int, State]:
    """Each version's state, given applied version -> checksum and version -> migration file."""
    states: dict[int, State] = {}
    for version in sorted(set(applied) | set(files)):
        if version not in applied:
            states[version] = "pending"
        elif version not in files:
            states[version] = "unknown"
        else:
            states[version] = "applied" if applied[version].strip() == files[version].checksum else "edited"
    return states


def plan(applied: Iterable[AppliedMigration], available: Sequence[Migration]) -> Plan:
    """Pending migrations in order; ChecksumMismatch if an applied file changed."""
    history = {a.version: a for a in applied}
    files = {m.version: m for m in available}
    states = migration_states({v: a.checksum for v, a in history.items()}, files)
    for version, state in states.items():
        if state == "edited":
            raise ChecksumMismatch(version, files[version].filename, history[version].checksum, files[version].checksum)
    unknown = tuple(v for v, s in states.items() if s == "unknown")
    pending = tuple(files[v] for v, s in states.items() if s == "pending")
    newest_applied = max(history, default=0)
    late = [m for m in pending if m.version < newest_applied]
    if late and not unknown:
        raise OutOfOrderMigration(
            f"migration(s) {', '.join(m.filename for m in late)} are older than the newest applied "
            f"version {newest_applied:04d}; renumber them after it"
        )
    return Plan(pending=pending, unknown_applied=unknown)
