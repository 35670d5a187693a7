"""squawk (the PostgreSQL migration linter) on every migration file: a finding fails synth naming file:line and rule.

squawk knows the patterns that lock or rewrite a big table while agents write to it: a non-concurrent
index, a NOT NULL column without a default, a column type change, a foreign key or CHECK without
NOT VALID, and more (https://squawkhq.com/docs/rules). The project's choices:

- `.squawk.toml` (project root) names the PostgreSQL version, says each ordinary migration runs in
  one transaction, and excludes the rules that do not fit this project, each with its reason.
- Rules about locking or rewriting an *existing* table do not apply to a table the same migration
  creates (it is empty and no agent can reach it yet): those findings are scoped away
  (`NEW_TABLE_RULES`), never excluded for every table.
- A finding the author has weighed is acknowledged on the comment lines right above its statement:
  `-- squawk-acknowledge <rule>: <reason>`. An acknowledgment without a reason, or one that matches
  no finding, is itself an error (stale acknowledgments hide the next real finding).
- Migrations applied before the linter existed cannot change (their checksums are in every
  database's history), so their weighed findings are listed in migrations/squawk_acknowledged.toml.

squawk is a compiled binary (PyPI `squawk-cli`, pinned in requirements-dev.txt); none of it runs
in the deployed Lambda.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alex_db.errors import MigrationFileError

CONFIG_FILE = ".squawk.toml"
ACKNOWLEDGED_FILE = "squawk_acknowledged.toml"
MIN_REASON_CHARS = 20
ACKNOWLEDGE = re.compile(r"^\s*--\s*squawk-acknowledge\s+(?P<rule>[a-z0-9-]+)\s*(?::\s*(?P<reason>.*))?$")
# Rules about a lock or a rewrite of a table that holds rows and is in use; a table created in the
# same migration has neither.
NEW_TABLE_RULES = frozenset({
    "require-concurrent-index-creation", "require-concurrent-index-deletion", "constraint-missing-not-valid",
    "adding-foreign-key-constraint", "adding-not-nullable-field", "adding-required-field", "changing-column-type",
    "adding-serial-primary-key-field", "disallowed-unique-constraint", "adding-field-with-default",
    "renaming-column", "renaming-table", "ban-drop-column",
})  # fmt: skip


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int  # 1-based
    rule: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.filename}:{self.line}: squawk {self.rule}: {self.message} (https://squawkhq.com/docs/{self.rule})"
        )


def squawk_executable() -> str:
    """The squawk binary next to this interpreter (a venv's bin/) or on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    found = str(beside) if beside.exists() else shutil.which("squawk")
    if not found:
        raise MigrationFileError(
            "squawk (the migration linter) is not installed: pip install 'alex-db[authoring]' "
            "(or -r requirements-dev.txt in this repository)"
        )
    return found


def run_squawk(paths: list[Path], config: Path | None, *, in_transaction: bool) -> list[Finding]:
    """squawk's findings for `paths` (JSON reporter; its 0-based lines made 1-based)."""
    if not paths:
        return []
    command = [squawk_executable(), "--reporter", "json", "--no-error-on-unmatched-pattern"]
    if config is not None and config.exists():
        command += ["--config", str(config)]
    command.append("--assume-in-transaction" if in_transaction else "--no-assume-in-transaction")
    result = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False)
    try:
        raw: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        raise MigrationFileError(f"squawk failed: {(result.stderr or result.stdout).strip()}") from None
    return [Finding(Path(r["file"]).name, int(r["line"]) + 1, r["rule_name"], r["message"]) for r in raw]


def lint(directory: str | Path, migrations: list[Any]) -> None:
    """Fail with every unacknowledged finding (file:line: squawk rule: message), or do nothing."""
    directory = Path(directory)
    config = directory.parent / CONFIG_FILE
    by_name = {m.filename: m for m in migrations}
    findings: list[Finding] = []
    for in_transaction in (True, False):
        paths = [directory / m.filename for m in migrations if m.non_transactional != in_transaction]
        findings += run_squawk(paths, config, in_transaction=in_transaction)
    shipped = _shipped_acknowledgments(directory)
    inline = {m.filename: _inline_acknowledgments(directory / m.filename, m) for m in migrations}
    created: dict[str, set[str]] = {}
    problems, used = [], set()
    for finding in sorted(findings, key=lambda f: (f.filename, f.line, f.rule)):
        migration = by_name.get(finding.filename)
        if migration is None:
            continue
        index = _statement_at(migration, finding.line)
        if finding.rule in NEW_TABLE_RULES:
            new_tables = created.setdefault(migration.filename, _created_tables(migration))
            if _target_table(migration.statements[index]) in new_tables:
                continue  # the table is new in this migration: nothing holds or reads it yet
        if (finding.filename, finding.line, finding.rule) in shipped:
            used.add((finding.filename, finding.line, finding.rule))
            continue
        start = migration.lines[index]
        if any(rule == finding.rule for _, rule, _ in inline[finding.filename].get(start, ())):
            used.add((finding.filename, start, finding.rule))
            continue
        problems.append(str(finding))
    problems += _acknowledgment_problems(directory, inline, shipped, used)
    if problems:
        raise MigrationFileError(
            "migration linter (squawk) findings; fix them, or acknowledge one with "
            "`-- squawk-acknowledge <rule>: <reason>` right above its statement:\n  " + "\n  ".join(problems)
        )


def _statement_at(migration: Any, line: int) -> int:
    """Index of the statement that `line` falls in (the last one starting at or before it)."""
    index = 0
    for i, start in enumerate(migration.lines):
        if start <= line:
            index = i
    return index


def _created_tables(migration: Any) -> set[str]:
    from pglast import parse_sql

    created = set()
    for statement in migration.statements:
        node = parse_sql(statement)[0].stmt
        if type(node).__name__ == "CreateStmt":
            created.add(node.relation.relname)
    return created


def _target_table(statement: str) -> str | None:
    from pglast import parse_sql

    node = parse_sql(statement)[0].stmt
    relation = getattr(node, "relation", None)
    return getattr(relation, "relname", None)


def _inline_acknowledgments(path: Path, migration: Any) -> dict[int, list[tuple[int, str, str]]]:
    """Statement start line -> (line, rule, reason) of each acknowledgment in the comment lines right above it."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    found: dict[int, list[tuple[int, str, str]]] = {}
    for start in migration.lines:
        number = start - 1
        while number >= 1 and lines[number - 1].strip().startswith("--"):
            if match := ACKNOWLEDGE.match(lines[number - 1]):
                found.setdefault(start, []).append((number, match["rule"], (match["reason"] or "").strip()))
            number -= 1
    return found


def _acknowledgment_problems(
    directory: Path,
    inline: dict[str, dict[int, list[tuple[int, str, str]]]],
    shipped: dict[tuple[str, int, str], str],
    used: set[tuple[str, int, str]],
) -> list[str]:
    problems = []
    for filename, by_statement in inline.items():
        for start, acknowledgments in by_statement.items():
            for number, rule, reason in sorted(acknowledgments):
                if len(reason) < MIN_REASON_CHARS:
                    problems.append(
                        f"{filename}:{number}: squawk-acknowledge {rule} needs a reason "
                        f"(`: why it is safe here`, at least {MIN_REASON_CHARS} characters)"
                    )
                elif (filename, start, rule) not in used:
                    problems.append(f"{filename}:{number}: squawk-acknowledge {rule} matches no finding of the "
                                    "statement below it; remove it")  # fmt: skip
    problems += [
        f"{directory.name}/{ACKNOWLEDGED_FILE}: {file}:{line} {rule} matches no finding; remove the entry"
        for (file, line, rule) in shipped
        if (file, line, rule) not in used
    ]
    return problems


def _shipped_acknowledgments(directory: Path) -> dict[tuple[str, int, str], str]:
    path = directory / ACKNOWLEDGED_FILE
    if not path.exists():
        return {}
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("acknowledged", [])
        found = {(e["file"], int(e["line"]), e["rule"]): e["reason"] for e in entries}
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MigrationFileError(f"{path}: {exc} (each [[acknowledged]] has file, line, rule, reason)") from None
    short = [f"{f}:{line} {rule}" for (f, line, rule), reason in found.items() if len(reason) < MIN_REASON_CHARS]
    if short:
        raise MigrationFileError(f"{path}: every entry needs a reason; missing for {', '.join(short)}")
    return found
