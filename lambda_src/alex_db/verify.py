"""Checks that a database has the expected schema (0001) and seed data: the `alex-db verify` command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alex_db.client import DataApiClient
from alex_db.schemas import ALLOCATION_TOLERANCE

TS = "timestamp without time zone"
VARCHAR = "character varying(255)"
EXPECTED_COLUMNS: dict[str, dict[str, str]] = {
    "users": {
        "clerk_user_id": VARCHAR, "display_name": VARCHAR, "years_until_retirement": "integer",
        "target_retirement_income": "numeric(12,2)", "asset_class_targets": "jsonb", "region_targets": "jsonb",
        "created_at": TS, "updated_at": TS,
    },
    "instruments": {
        "symbol": "character varying(20)", "name": VARCHAR, "instrument_type": "character varying(50)",
        "current_price": "numeric(12,4)", "allocation_regions": "jsonb", "allocation_sectors": "jsonb",
        "allocation_asset_class": "jsonb", "created_at": TS, "updated_at": TS,
    },
    "accounts": {
        "id": "uuid", "clerk_user_id": VARCHAR, "account_name": VARCHAR, "account_purpose": "text",
        "cash_balance": "numeric(12,2)", "cash_interest": "numeric(5,4)", "created_at": TS, "updated_at": TS,
    },
    "positions": {
        "id": "uuid", "account_id": "uuid", "symbol": "character varying(20)", "quantity": "numeric(20,8)",
        "as_of_date": "date", "created_at": TS, "updated_at": TS,
    },
    "jobs": {
        "id": "uuid", "clerk_user_id": VARCHAR, "job_type": "character varying(50)",
        "status": "character varying(20)", "request_payload": "jsonb", "report_payload": "jsonb",
        "charts_payload": "jsonb", "retirement_payload": "jsonb", "summary_payload": "jsonb",
        "error_message": "text", "created_at": TS, "started_at": TS, "completed_at": TS, "updated_at": TS,
    },
}  # fmt: skip
EXPECTED_INDEXES = ("idx_accounts_user", "idx_positions_account", "idx_positions_symbol", "idx_jobs_user",
                    "idx_jobs_status")  # fmt: skip
EXPECTED_FOREIGN_KEYS = (
    ("accounts", "clerk_user_id", "users", "CASCADE"),
    ("positions", "account_id", "accounts", "CASCADE"),
    ("positions", "symbol", "instruments", "NO ACTION"),
    ("jobs", "clerk_user_id", "users", "CASCADE"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def run_checks(client: DataApiClient, seed_symbols: list[str]) -> list[Check]:
    checks: list[Check] = []
    columns = client.query(
        """
        SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        """
    )
    actual: dict[str, dict[str, str]] = {}
    for row in columns:
        actual.setdefault(row["table_name"], {})[row["column_name"]] = row["type"]
    for table, expected in EXPECTED_COLUMNS.items():
        have = actual.get(table)
        if have is None:
            checks.append(Check(f"table {table}", False, "missing"))
            continue
        wrong = [f"{c}: {have.get(c, 'missing')} (expected {t})" for c, t in expected.items() if have.get(c) != t]
        checks.append(Check(f"table {table} columns", not wrong, "; ".join(wrong) or f"{len(expected)} columns"))
    checks.append(Check("table schema_migrations", "schema_migrations" in actual, ""))

    indexes = {r["indexname"] for r in client.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    for index in EXPECTED_INDEXES:
        checks.append(Check(f"index {index}", index in indexes, "" if index in indexes else "missing"))

    triggers = {
        (r["table"], r["trigger"])
        for r in client.query(
            "SELECT event_object_table AS table, trigger_name AS trigger FROM information_schema.triggers "
            "WHERE trigger_schema = 'public'"
        )
    }
    for table in EXPECTED_COLUMNS:
        present = (table, f"update_{table}_updated_at") in triggers
        checks.append(Check(f"trigger update_{table}_updated_at", present, "" if present else "missing"))

    fks = {
        (r["table"], r["column"], r["target"], r["on_delete"])
        for r in client.query(
            """
            SELECT tc.table_name AS table, kcu.column_name AS column, ccu.table_name AS target,
                   rc.delete_rule AS on_delete
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
            JOIN information_schema.constraint_column_usage ccu USING (constraint_schema, constraint_name)
            JOIN information_schema.referential_constraints rc USING (constraint_schema, constraint_name)
            WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public'
            """
        )
    }
    for fk in EXPECTED_FOREIGN_KEYS:
        checks.append(Check(f"foreign key {fk[0]}.{fk[1]} -> {fk[2]} ON DELETE {fk[3]}", fk in fks, ""))

    if "instruments" in actual:
        checks.extend(_seed_checks(client, seed_symbols))
    return checks


def _seed_checks(client: DataApiClient, seed_symbols: list[str]) -> list[Check]:
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
