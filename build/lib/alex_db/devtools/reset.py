"""`alex-db reset`: drop what the migrations created (found with pglast) in one transaction, re-initialise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alex_db.client import DataApiClient
from alex_db.deploy.manifest import migrations_of
from alex_db.deploy.plan import Migration
from alex_db.deploy.runner import InitSummary, initialize


def _quote(*parts: str | None) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts if p)


def created_objects(migrations: list[Migration]) -> list[tuple[str, str]]:
    """(kind, quoted name) of every table, view, sequence, type and function the migrations create."""
    import pglast
    from pglast import ast, enums

    found: list[tuple[str, str]] = []
    for migration in migrations:
        for statement in migration.statements:
            for raw in pglast.parse_sql(statement):
                node = raw.stmt
                if isinstance(node, ast.CreateStmt):
                    found.append(("TABLE", _quote(node.relation.schemaname, node.relation.relname)))
                elif isinstance(node, ast.CreateTableAsStmt):
                    kind = "MATERIALIZED VIEW" if node.objtype == enums.ObjectType.OBJECT_MATVIEW else "TABLE"
                    found.append((kind, _quote(node.into.rel.schemaname, node.into.rel.relname)))
                elif isinstance(node, ast.ViewStmt):
                    found.append(("VIEW", _quote(node.view.schemaname, node.view.relname)))
                elif isinstance(node, ast.CreateSeqStmt):
                    found.append(("SEQUENCE", _quote(node.sequence.schemaname, node.sequence.relname)))
                elif isinstance(node, (ast.CreateEnumStmt, ast.CompositeTypeStmt)):
                    names = (
                        [n.sval for n in node.typeName]
                        if isinstance(node, ast.CreateEnumStmt)
                        else [node.typevar.schemaname, node.typevar.relname]
                    )
                    found.append(("TYPE", _quote(*names)))
                elif isinstance(node, ast.CreateFunctionStmt):
                    found.append(("FUNCTION", _quote(*[n.sval for n in node.funcname])))
    return list(dict.fromkeys(found))  # CREATE OR REPLACE may repeat a name


def drop_statements(migrations: list[Migration]) -> list[str]:
    """DROP … IF EXISTS … CASCADE for this project's objects, newest first, then the history table."""
    drops = [f"DROP {kind} IF EXISTS {name} CASCADE" for kind, name in reversed(created_objects(migrations))]
    return [*drops, "DROP TABLE IF EXISTS schema_migrations"]


def reset_database(
    client: DataApiClient, manifest: dict[str, Any], *, progress: Callable[[str], None] = print
) -> InitSummary:
    """Drop this project's objects (all or nothing), then migrate and seed from scratch."""
    with client.transaction() as tx:  # no half-dropped schema
        for statement in drop_statements(migrations_of(manifest)):
            tx.execute(statement)
    progress("dropped the Alex schema")
    return initialize(client, manifest, progress=progress)
