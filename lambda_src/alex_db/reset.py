"""Reset support: which objects the migrations created (read with pglast), and the test user's data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient
from alex_db.migrations import Migration


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


def load_test_data(client: DataApiClient, path: str | Path) -> dict[str, Any]:
    """The original guide's test user, accounts and positions, through the schemas; idempotent."""
    from alex_db.models import Database

    data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    db = Database(client)
    user_id = db.users.create_user(data["user"])
    existing = {a["account_name"]: a["id"] for a in db.accounts.find_by_user(user_id)}
    accounts = positions = 0
    for account in data["accounts"]:
        fields = {k: v for k, v in account.items() if k != "positions"}
        account_id = existing.get(account["account_name"]) or db.accounts.create_account(
            {**fields, "clerk_user_id": user_id}
        )
        accounts += 1
        for position in account.get("positions", []):
            db.positions.add_position({**position, "account_id": account_id})
            positions += 1
    return {"user": user_id, "accounts": accounts, "positions": positions}
