"""`alex-db verify`: the live catalog against the committed schema snapshot, plus the seed data checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from alex_db import shipped_schema
from alex_db.authoring.schema_snapshot import capture
from alex_db.column_catalog import shipped_shape
from alex_db.schemas import ALLOCATION_TOLERANCE

Severity = Literal["error", "warning"]
_CONSTRAINT_KINDS = ("PRIMARY KEY", "FOREIGN KEY", "CHECK", "UNIQUE", "EXCLUDE")
# What a snapshot of format 1 (before these were recorded) implies.
DEFAULTS = {"persistence": "permanent", "row_security": "off"}


@dataclass(frozen=True)
class Drift:
    """One difference between the live database and the snapshot, as one line."""

    severity: Severity
    message: str


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def describe_column(spec: dict[str, Any]) -> str:
    text = spec["type"] + (" NOT NULL" if spec["not_null"] else "")
    return text + (f" DEFAULT {spec['default']}" if spec.get("default") is not None else "")


def constraint_kind(definition: str) -> str:
    return next((k for k in _CONSTRAINT_KINDS if definition.startswith(k)), "CONSTRAINT")


def _compare_named(
    where: str, label: str, expected: dict[str, str], actual: dict[str, str], *, extra: Severity
) -> list[Drift]:
    """Named definitions (constraints, indexes, triggers, functions): missing, changed, extra."""
    drifts = []
    for name, definition in expected.items():
        kind = constraint_kind(definition) if label == "constraint" else label
        if name not in actual:
            drifts.append(Drift("error", f"{where}{kind} {name} missing"))
        elif actual[name] != definition:
            drifts.append(Drift("error", f"{where}{kind} {name} is {actual[name]!r}, expected {definition!r}"))
    for name in actual.keys() - expected.keys():
        kind = constraint_kind(actual[name]) if label == "constraint" else label
        drifts.append(Drift(extra, f"{where}extra {kind} {name}: {actual[name]}"))
    return drifts


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[Drift]:
    """Every difference, one line each; objects that only add (tables, columns, indexes) are warnings."""
    drifts: list[Drift] = []
    for table, spec in expected["tables"].items():
        live = actual["tables"].get(table)
        if live is None:
            drifts.append(Drift("error", f"missing table {table}"))
            continue
        for column, want in spec["columns"].items():
            have = live["columns"].get(column)
            if have is None:
                drifts.append(Drift("error", f"{table}: column {column} missing"))
            elif have != want:
                shown = f"{describe_column(have)}, expected {describe_column(want)}"
                drifts.append(Drift("error", f"{table}: column {column} {shown}"))
        for column in live["columns"].keys() - spec["columns"].keys():
            shown = describe_column(live["columns"][column])
            drifts.append(Drift("warning", f"{table}: extra column {column} {shown}"))
        where = f"{table}: "
        for state, meaning in (
            ("persistence", "an unlogged table is emptied by a crash and not replicated"),
            ("row_security", "row-level security hides rows from the agents' role"),
        ):
            want, have = spec.get(state, DEFAULTS[state]), live.get(state, DEFAULTS[state])
            if want != have:
                drifts.append(Drift("error", f"{where}{state.replace('_', ' ')} {have}, expected {want} ({meaning})"))
        drifts += _compare_named(where, "constraint", spec["constraints"], live["constraints"], extra="error")
        drifts += _compare_named(where, "index", spec["indexes"], live["indexes"], extra="warning")
        drifts += _compare_named(where, "trigger", spec["triggers"], live["triggers"], extra="error")
        states = {name: "enabled" for name in spec["triggers"]} | spec.get("trigger_states", {})
        for name, state in live.get("trigger_states", {}).items():
            if name in spec["triggers"] and state != states[name]:
                drifts.append(Drift("error", f"{where}trigger {name} {state}, expected {states[name]}"))
        drifts += _compare_named(where, "policy", spec.get("policies", {}), live.get("policies", {}), extra="error")
    for table in sorted(actual["tables"].keys() - expected["tables"].keys()):
        drifts.append(Drift("warning", f"extra table {table}"))
    drifts += _compare_named("", "function", expected["functions"], actual["functions"], extra="warning")
    drifts += _compare_named("", "view", expected.get("views", {}), actual.get("views", {}), extra="warning")
    return drifts


def schema_drift(client: Any, snapshot: dict[str, Any]) -> list[Drift]:
    return compare(snapshot, capture(client, snapshot.get("schema", "public")))


def shipped_schema_drift(snapshot: dict[str, Any]) -> list[Drift]:
    """Where the column types clients use without asking (alex_db.shipped_schema) differ from the snapshot.

    The live catalog is compared with the snapshot (schema_drift), so this closes the loop: what an
    agent's client assumes is what the database has, without any client reading the catalog.
    """
    drifts = []
    tables = snapshot["tables"]
    for table, columns in shipped_schema.TABLES.items():
        where = f"alex_db.shipped_schema: {table}"
        expected = {name: spec["type"] for name, spec in tables.get(table, {}).get("columns", {}).items()}
        if not expected:
            drifts.append(Drift("error", f"{where} is not in the snapshot"))
        elif columns != expected:
            changed = [f"{n} {columns.get(n, 'missing')} (snapshot: {expected.get(n, 'missing')})"
                       for n in dict.fromkeys([*columns, *expected]) if columns.get(n) != expected.get(n)]  # fmt: skip
            drifts.append(Drift("error", f"{where}: {', '.join(changed)}; reinstall alex-db or run `make schema`"))
        if shipped_shape(table) is None:
            drifts.append(Drift("warning", f"{where} has a type the package does not model; clients read it live"))
    return drifts


# Settings an app user carries into every later session (ALTER ROLE ... SET): none are expected;
# init and rotation clear them (alex_db.deploy.app_role).
_ROLE_SETTINGS = """
SELECT r.rolname AS role, coalesce(d.datname, '') AS database, array_to_string(s.setconfig, ', ') AS settings
FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
WHERE r.rolname = :group OR pg_has_role(r.oid, (SELECT oid FROM pg_roles WHERE rolname = :group), 'MEMBER')
ORDER BY 1, 2
"""


def role_setting_drift(client: Any, group: str) -> list[Drift]:
    """One error per app role carrying role-level settings (search_path, read-only, ...)."""
    if client.query_one("SELECT 1 AS ok FROM pg_roles WHERE rolname = :group", {"group": group}) is None:
        return []
    return [
        Drift("error", f"role {row['role']}{' in database ' + row['database'] if row['database'] else ''} "
                       f"carries settings for every later session: {row['settings']} (init or rotation clears them)")
        for row in client.query(_ROLE_SETTINGS, {"group": group})
    ]  # fmt: skip


def seed_checks(client: Any, seed_symbols: list[str]) -> list[Check]:
    rows = client.query(
        "SELECT symbol, allocation_regions, allocation_sectors, allocation_asset_class FROM instruments"
    )
    present = {r["symbol"] for r in rows}
    missing = sorted(set(seed_symbols) - present)
    checks = [
        Check(
            f"{len(seed_symbols)} seed instruments present",
            not missing,
            f"missing {', '.join(missing)}" if missing else f"{len(present)} instruments in total",
        )
    ]
    bad = [
        f"{r['symbol']}.{column}={_total(r[column]):g}"
        for r in rows
        for column in ("allocation_regions", "allocation_sectors", "allocation_asset_class")
        if abs(_total(r[column]) - 100) > ALLOCATION_TOLERANCE
    ]
    checks.append(Check("allocations sum to 100", not bad, "; ".join(bad) or f"{len(rows) * 3} allocations"))
    return checks


def _total(allocation: Any) -> float:
    return float(sum((allocation or {}).values()))
