"""`alex-db reset`: drop what the migrations created (found with pglast) in one transaction, re-initialise.

Before anything is dropped, every migration statement must create only kinds reset knows how to
drop and recreate; then the drops run in a transaction and the catalog is compared before and
after: if CASCADE took anything the migrations did not create (a hand-made view on a table, a
function someone added), the transaction is rolled back and reset refuses, naming it. `--dry-run`
does the same and always rolls back, printing what a reset would drop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alex_db.client import DataApiClient
from alex_db.deploy.manifest import migrations_of
from alex_db.deploy.plan import Migration
from alex_db.deploy.runner import InitSummary, initialize
from alex_db.errors import ResetRefused

# Statements that create nothing of their own (or only things dropped with their table).
_DEPENDENTS = frozenset(
    {"IndexStmt", "CreateTrigStmt", "CreatePolicyStmt", "CreateStatsStmt", "RuleStmt", "CommentStmt", "GrantStmt"}
)
# Every schema-level object reset compares, as (kind, schema, name); functions by name (overloads alike).
CATALOG_OBJECTS = """
SELECT kind, schema_name, object_name FROM (
    SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                          WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
           n.nspname AS schema_name, c.relname AS object_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('a', 'i'))  -- sequences owned by a column go with their table
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname, p.proname
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')  -- extension members go with their extension
    UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname, t.typname
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE (t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                      AND d.deptype = 'e')
    UNION ALL
    SELECT 'trigger', n.nspname, tg.tgname || ' on ' || c.relname
    FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT tg.tgisinternal
    UNION ALL
    SELECT 'schema', nspname, nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')
    UNION ALL
    SELECT 'extension', '', extname FROM pg_extension WHERE extname <> 'plpgsql'
) objects
WHERE schema_name NOT IN ('pg_catalog', 'information_schema') AND schema_name NOT LIKE 'pg\\_%'
"""


@dataclass(frozen=True)
class Created:
    kind: str  # the DROP keyword: TABLE, VIEW, FUNCTION, SCHEMA, ...
    schema: str | None
    name: str
    signature: str = ""  # "(integer, text)" for functions and procedures: exact even when overloaded

    @property
    def drop(self) -> str:
        return f"DROP {self.kind} IF EXISTS {_quote(self.schema, self.name)}{self.signature} CASCADE"

    @property
    def key(self) -> tuple[str, str, str]:
        kind = self.kind.lower()
        schema = self.name if kind == "schema" else "" if kind == "extension" else self.schema or "public"
        return (kind, schema, self.name)


def _quote(*parts: str | None) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts if p)


def _names(nodes: Any) -> tuple[str | None, str]:
    names = [n.sval for n in nodes]
    return (names[0] if len(names) > 1 else None), names[-1]


def _signature(node: Any) -> str:
    from pglast.enums import FunctionParameterMode
    from pglast.stream import RawStream

    inputs = [p for p in node.parameters or () if p.mode not in (FunctionParameterMode.FUNC_PARAM_OUT,
                                                                  FunctionParameterMode.FUNC_PARAM_TABLE)]  # fmt: skip
    return "(" + ", ".join(RawStream()(p.argType) for p in inputs) + ")"


def _created(node: Any) -> Created | None:
    from pglast import ast, enums

    if isinstance(node, ast.CreateStmt):
        return Created("TABLE", node.relation.schemaname, node.relation.relname)
    if isinstance(node, ast.CreateTableAsStmt):
        kind = "MATERIALIZED VIEW" if node.objtype == enums.ObjectType.OBJECT_MATVIEW else "TABLE"
        return Created(kind, node.into.rel.schemaname, node.into.rel.relname)
    if isinstance(node, ast.ViewStmt):
        return Created("VIEW", node.view.schemaname, node.view.relname)
    if isinstance(node, ast.CreateSeqStmt):
        return Created("SEQUENCE", node.sequence.schemaname, node.sequence.relname)
    if isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        return Created("TYPE", *_names(node.typeName))
    if isinstance(node, ast.CompositeTypeStmt):
        return Created("TYPE", node.typevar.schemaname, node.typevar.relname)
    if isinstance(node, ast.CreateDomainStmt):
        return Created("DOMAIN", *_names(node.domainname))
    if isinstance(node, ast.CreateFunctionStmt):
        return Created("PROCEDURE" if node.is_procedure else "FUNCTION", *_names(node.funcname), _signature(node))
    if isinstance(node, ast.CreateSchemaStmt):
        return Created("SCHEMA", None, node.schemaname)
    if isinstance(node, ast.CreateExtensionStmt):
        return Created("EXTENSION", None, node.extname)
    return None


@dataclass(frozen=True)
class ResetPlan:
    objects: list[Created]
    unsupported: list[str]  # "file:line: first line" of statements creating kinds reset cannot drop

    @property
    def drops(self) -> list[str]:
        # Newest first, then the history table: each DROP … CASCADE also takes indexes, triggers, FKs.
        return [*(o.drop for o in reversed(self.objects)), "DROP TABLE IF EXISTS schema_migrations"]


def reset_plan(migrations: list[Migration]) -> ResetPlan:
    """What reset drops for these migrations, and the statements it could not undo."""
    import pglast

    from alex_db.errors import first_line

    objects: list[Created] = []
    unsupported = []
    for migration in migrations:
        for statement, line in zip(migration.statements, migration.lines, strict=True):
            for raw in pglast.parse_sql(statement):
                created = _created(raw.stmt)
                kind = type(raw.stmt).__name__
                if created is not None:
                    objects.append(created)
                elif (kind.startswith("Create") or kind == "DefineStmt") and kind not in _DEPENDENTS:
                    unsupported.append(f"{migration.filename}:{line}: {first_line(statement)}")
    return ResetPlan(list(dict.fromkeys(objects)), unsupported)  # CREATE OR REPLACE may repeat one


def drop_statements(migrations: list[Migration]) -> list[str]:
    return reset_plan(migrations).drops


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def catalog_objects(client: Any) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["schema_name"], r["object_name"]) for r in client.query(CATALOG_OBJECTS)}


def reset_database(
    client: DataApiClient,
    manifest: dict[str, Any],
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] = print,
) -> InitSummary | None:
    """Drop this project's objects (all or nothing, nothing foreign), then migrate and seed from scratch."""
    plan = reset_plan(migrations_of(manifest))
    if plan.unsupported:
        raise ResetRefused(
            "reset cannot drop and recreate what these statements create, so it dropped nothing: "
            + "; ".join(plan.unsupported)
        )
    ours = {o.key for o in plan.objects} | {("table", "public", "schema_migrations")}
    try:
        with client.transaction() as tx:  # no half-dropped schema
            before = catalog_objects(tx)
            for statement in plan.drops:
                tx.execute(statement)
            dropped = sorted(before - catalog_objects(tx))
            foreign = [d for d in dropped if _owner(d, ours) is None]
            if foreign:
                raise ResetRefused(
                    "reset would also drop object(s) the migrations did not create, so it dropped nothing: "
                    + ", ".join(_label(d) for d in foreign)
                    + " (drop or move them first)"
                )
            if dry_run:
                for item in dropped:
                    progress(f"  would drop {_label(item)}")
                progress(
                    f"dry run: {len(dropped)} object(s) would be dropped, then every migration and the seed re-run"
                )
                raise _DryRun
    except _DryRun:
        return None
    progress("dropped the Alex schema")
    return initialize(client, manifest, progress=progress)


def _owner(item: tuple[str, str, str], ours: set[tuple[str, str, str]]) -> tuple[str, str, str] | None:
    """Which of our objects `item` is, or belongs to (a trigger goes with its table)."""
    kind, schema, name = item
    if item in ours:
        return item
    if kind == "trigger":
        table = name.rsplit(" on ", 1)[-1]
        return next((o for o in ours if o[0] == "table" and o[1] == schema and o[2] == table), None)
    if kind in ("table", "view", "sequence", "function", "procedure", "type", "domain", "materialized view"):
        # Everything inside a schema or extension the migrations created goes with it.
        return next((o for o in ours if o[0] in ("schema",) and o[2] == schema), None)
    return None


def _label(item: tuple[str, str, str]) -> str:
    kind, schema, name = item
    return f"{kind} {schema}.{name}" if schema and kind not in ("schema", "extension", "trigger") else f"{kind} {name}"
