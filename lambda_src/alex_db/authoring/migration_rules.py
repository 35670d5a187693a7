"""What a migration statement may not contain, decided at synth so nothing can half-apply at deploy.

The runner applies each migration inside one Data API transaction and records it in the same
transaction. A statement that ends that transaction (COMMIT, ROLLBACK, ...), one PostgreSQL refuses
inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, CREATE DATABASE, ...), one the Data
API cannot carry (COPY … FROM STDIN, `sql` over 65,536 characters) or a `:name` the Data API would
read as a parameter placeholder would fail at deploy time or, worse, commit half a migration.
"""

from __future__ import annotations

from typing import Any

from pglast import parse_sql

from alex_db.authoring.sql_text import find_placeholders
from alex_db.errors import MigrationFileError, first_line
from alex_db.limits import MAX_SQL_CHARS

NON_TRANSACTIONAL_MARKER = "-- alex-db: no-transaction"
NOT_IN_TRANSACTION = "PostgreSQL refuses it inside a transaction block, and each migration runs in one"
ENDS_TRANSACTION = (
    "transaction control would end the migration's own transaction and commit or discard half of it; "
    "the runner already wraps each migration in one transaction"
)


def statement_problem(statement: str) -> str | None:
    """Why `statement` cannot be a migration statement, or None when it can."""
    if len(statement) > MAX_SQL_CHARS:
        return (
            f"the statement is {len(statement):,} characters; the Data API accepts at most {MAX_SQL_CHARS:,} "
            f"per call (split it, or load large data from seed files)"
        )
    node = parse_sql(statement)[0].stmt
    problem = _node_problem(type(node).__name__, node, statement)
    if problem:
        return problem
    placeholders = find_placeholders(statement)
    if placeholders:
        name = placeholders[0][2]
        return (
            f":{name} is a Data API parameter placeholder, and migrations run without parameters "
            f"(in an array slice write a space after the colon: [1: {name}])"
        )
    return None


def _node_problem(kind: str, node: Any, statement: str) -> str | None:
    if kind == "TransactionStmt":
        return f"{_keyword(node, statement)}: {ENDS_TRANSACTION}"
    if kind in ("IndexStmt", "DropStmt") and getattr(node, "concurrent", False):
        return (
            f"CONCURRENTLY: {NOT_IN_TRANSACTION}; put it alone in a migration whose first line is "
            f"`{NON_TRANSACTIONAL_MARKER}`"
        )
    if kind == "ReindexStmt":
        concurrent = any(p.defname == "concurrently" for p in node.params or ())
        if concurrent or node.relation is None:
            return f"REINDEX CONCURRENTLY/DATABASE/SYSTEM: {NOT_IN_TRANSACTION}"
    if kind == "VacuumStmt" and node.is_vacuumcmd:
        return f"VACUUM: {NOT_IN_TRANSACTION} (autovacuum runs on Aurora; ANALYZE is allowed)"
    if kind == "ClusterStmt" and node.relation is None:
        return f"CLUSTER without a table: {NOT_IN_TRANSACTION}"
    if kind == "AlterTableStmt":
        for command in node.cmds or ():
            if getattr(getattr(command, "def_", None), "concurrent", False):
                return f"DETACH PARTITION … CONCURRENTLY: {NOT_IN_TRANSACTION}"
    if kind == "DiscardStmt" and node.target.name == "DISCARD_ALL":
        return f"DISCARD ALL: {NOT_IN_TRANSACTION}"
    refused = {
        "CreatedbStmt": "CREATE DATABASE",
        "DropdbStmt": "DROP DATABASE",
        "CreateTableSpaceStmt": "CREATE TABLESPACE",
        "DropTableSpaceStmt": "DROP TABLESPACE",
        "AlterSystemStmt": "ALTER SYSTEM",
        "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
        "DropSubscriptionStmt": "DROP SUBSCRIPTION",
    }
    if kind in refused:
        return f"{refused[kind]}: {NOT_IN_TRANSACTION}"
    if kind == "CopyStmt" and node.filename is None:
        direction = "FROM STDIN" if node.is_from else "TO STDOUT"
        return f"COPY … {direction}: the Data API has no COPY protocol (use INSERT, or a seed file)"
    return None


def _keyword(node: Any, statement: str) -> str:
    names = {
        "TRANS_STMT_BEGIN": "BEGIN",
        "TRANS_STMT_START": "START TRANSACTION",
        "TRANS_STMT_COMMIT": "COMMIT",
        "TRANS_STMT_ROLLBACK": "ROLLBACK",
        "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
        "TRANS_STMT_RELEASE": "RELEASE",
        "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
        "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
        "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
        "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
    }
    if node.kind.name == "TRANS_STMT_COMMIT" and statement.split()[0].upper() == "END":
        return "END"  # PostgreSQL's synonym for COMMIT; name what the file says
    return names.get(node.kind.name, node.kind.name)


def non_transactional_problem(statement: str) -> str | None:
    """Why `statement` cannot be the one statement of a no-transaction migration, or None when it can.

    Allowed: what PostgreSQL refuses inside a transaction block and a big table needs —
    CREATE INDEX CONCURRENTLY (named, so a failed build's INVALID index can be found and rebuilt),
    DROP INDEX CONCURRENTLY, REINDEX … CONCURRENTLY of one index or table, ALTER TYPE … ADD VALUE.
    """
    if len(statement) > MAX_SQL_CHARS:
        return statement_problem(statement)
    node = parse_sql(statement)[0].stmt
    kind = type(node).__name__
    if kind == "IndexStmt" and node.concurrent:
        if not node.idxname:
            return "CREATE INDEX CONCURRENTLY needs an index name: a failed build leaves an INVALID index to find"
        return None
    if kind == "DropStmt" and node.concurrent:
        return None
    concurrent = any(p.defname == "concurrently" for p in getattr(node, "params", None) or ())
    if kind == "ReindexStmt" and node.relation is not None and concurrent:
        return None
    if kind == "AlterEnumStmt" and node.newVal:
        return None
    return (
        "a no-transaction migration holds one statement PostgreSQL refuses inside a transaction "
        "(CREATE/DROP INDEX CONCURRENTLY, REINDEX … CONCURRENTLY, ALTER TYPE … ADD VALUE); this one runs "
        f"in a transaction: remove the `{NON_TRANSACTIONAL_MARKER}` line, so a failure rolls it back"
    )


def check_statements(
    filename: str, statements: tuple[str, ...], lines: tuple[int, ...], *, non_transactional: bool = False
) -> None:
    """Raise MigrationFileError naming file:line, the statement's first line and why, for every problem."""
    if non_transactional and len(statements) != 1:
        raise MigrationFileError(
            f"{filename}:{lines[1]}: a `{NON_TRANSACTIONAL_MARKER}` migration holds exactly one statement "
            f"(it has {len(statements)}); nothing could roll the others back if one failed"
        )
    problems = []
    for statement, line in zip(statements, lines, strict=True):
        problem = non_transactional_problem(statement) if non_transactional else statement_problem(statement)
        if problem:
            problems.append(f"{filename}:{line}: {problem}\n    {first_line(statement)}")
    if problems:
        raise MigrationFileError("\n".join(problems))
