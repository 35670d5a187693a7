"""The schema snapshot: the catalog that the migrations produce, read through the Data API, as plain JSON.

`make schema` applies every migration to a scratch PostgreSQL and commits the result as
migrations/schema_snapshot.json; `alex-db verify` reads the same catalog from a live database and
compares (alex_db.devtools.verify); `alex-db schema --mermaid` draws the ERD from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alex_db.authoring.manifest_builder import SNAPSHOT_FILE

SNAPSHOT_FORMAT = 2  # 2: table persistence, row-level security, policies, trigger states
SCHEMA = "public"

# One query per object kind; each row is small (well under the Data API's 64 KB row limit).
# State that changes behaviour as much as a dropped CHECK: an UNLOGGED table is emptied by a crash,
# row-level security hides rows, a disabled trigger stops maintaining updated_at.
_TABLES = """
SELECT c.relname AS table_name,
       CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END AS persistence,
       CASE WHEN NOT c.relrowsecurity THEN 'off' WHEN c.relforcerowsecurity THEN 'enabled, forced'
            ELSE 'enabled' END AS row_security
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY 1
"""
_POLICIES = """
SELECT tablename AS table_name, policyname AS name,
       permissive || ' FOR ' || cmd || ' TO ' || array_to_string(roles, ', ')
       || coalesce(' USING (' || qual || ')', '') || coalesce(' WITH CHECK (' || with_check || ')', '') AS definition
FROM pg_policies WHERE schemaname = :schema ORDER BY 1, 2
"""
_TRIGGER_STATES = """
SELECT c.relname AS table_name, t.tgname AS name,
       CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica only' WHEN 'A' THEN 'always'
            ELSE 'enabled' END AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND NOT t.tgisinternal
ORDER BY 1, 2
"""
_COLUMNS = """
SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS column_default
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
_CONSTRAINTS = """
SELECT c.relname AS table_name, k.conname AS name, pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND k.contype IN ('p', 'f', 'c', 'u', 'x')
ORDER BY 1, 2
"""
# Indexes that back a PRIMARY KEY/UNIQUE constraint are covered by the constraint itself.
_INDEXES = """
SELECT t.relname AS table_name, i.relname AS name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = :schema AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
ORDER BY 1, 2
"""
_TRIGGERS = """
SELECT c.relname AS table_name, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND NOT t.tgisinternal
ORDER BY 1, 2
"""
_FUNCTIONS = """
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name,
       pg_get_functiondef(p.oid) AS definition
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = :schema AND p.prokind IN ('f', 'p')
ORDER BY 1
"""
_VIEWS = """
SELECT c.relname AS name, pg_get_viewdef(c.oid, true) AS definition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('v', 'm')
ORDER BY 1
"""


def capture(client: Any, schema: str = SCHEMA) -> dict[str, Any]:
    """The schema's tables (columns, constraints, indexes, triggers), functions and views, in a stable order."""
    params = {"schema": schema}
    tables: dict[str, dict[str, Any]] = {
        row["table_name"]: {
            "persistence": row["persistence"],
            "row_security": row["row_security"],
            "columns": {},
            "constraints": {},
            "indexes": {},
            "triggers": {},
            "trigger_states": {},
            "policies": {},
        }
        for row in client.query(_TABLES, params)
    }
    for row in client.query(_COLUMNS, params):
        tables[row["table_name"]]["columns"][row["column_name"]] = {
            "type": row["type"],
            "not_null": row["not_null"],
            "default": row["column_default"],
        }
    for kind, sql in (("constraints", _CONSTRAINTS), ("indexes", _INDEXES), ("triggers", _TRIGGERS),
                      ("trigger_states", _TRIGGER_STATES), ("policies", _POLICIES)):  # fmt: skip
        for row in client.query(sql, params):
            tables[row["table_name"]][kind][row["name"]] = row["definition"]
    return {
        "format": SNAPSHOT_FORMAT,
        "schema": schema,
        "tables": tables,
        "functions": {row["name"]: row["definition"].strip() for row in client.query(_FUNCTIONS, params)},
        "views": {row["name"]: row["definition"].strip() for row in client.query(_VIEWS, params)},
    }


def snapshot_path(migrations_dir: str | Path) -> Path:
    return Path(migrations_dir) / SNAPSHOT_FILE


def render(snapshot: dict[str, Any]) -> str:
    """The committed text: indented JSON in catalog order, one trailing newline (reviewable diffs)."""
    return json.dumps(snapshot, indent=2, ensure_ascii=False) + "\n"


def read_snapshot(migrations_dir: str | Path) -> dict[str, Any]:
    path = snapshot_path(migrations_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; create it with `make schema`")
    return json.loads(path.read_text(encoding="utf-8"))


SHIPPED_SCHEMA_MODULE = Path("lambda_src") / "alex_db" / "shipped_schema.py"


def render_shipped_schema(snapshot: dict[str, Any]) -> str:
    """alex_db/shipped_schema.py: each table's columns and format_type() strings, for agents' clients.

    Written so that `ruff format` leaves it as it is (one entry per line, trailing commas).
    """
    lines = [
        '"""The tables the migrations build and their column types (generated by `make schema`; do not edit).',
        "",
        "alex_db.column_catalog reads it instead of information_schema at every cold start;",
        "`alex-db verify` checks it against the live catalog.",
        '"""',
        "",
        "TABLES: dict[str, dict[str, str]] = {",
    ]
    for table, spec in snapshot["tables"].items():
        lines.append(f"    {json.dumps(table)}: {{")
        lines += [f"        {json.dumps(name)}: {json.dumps(col['type'])}," for name, col in spec["columns"].items()]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"
