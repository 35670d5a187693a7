"""Column types come from the shipped schema: no catalog read at cold start, live reads only for the unknown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alex_db import Database, shipped_schema
from alex_db.column_catalog import COLUMNS_SQL, ColumnType, shipped_shape
from alex_db.errors import UnknownColumnError
from tests.conftest import make_client


def catalog_reads(api) -> list[str]:
    return [sql for sql in api.statements if "information_schema" in sql]


def test_shipped_shapes_are_what_the_live_catalog_reports(db_client):
    # The shipped schema replaces this very query; on the migrated database they must agree exactly.
    for table in shipped_schema.TABLES:
        live = {
            r["column_name"]: ColumnType(r["udt_name"], r["character_maximum_length"], r["numeric_precision"])
            for r in db_client.query(COLUMNS_SQL, {"table": table})
        }
        assert shipped_shape(table).columns == live, table


def test_a_cold_start_runs_the_courses_calls_without_reading_the_catalog(db_api, initialized_database):
    db = Database(make_client(db_api, initialized_database))  # a new client: what every Lambda cold start makes
    db_api.reset_counts()
    db.users.create_user("user_cold", "Cold Start")
    account = db.accounts.create_account("user_cold", "Taxable", "growth", Decimal("10"))
    db.positions.add_position(account, "SPY", Decimal("3"))
    job = db.jobs.create_job("user_cold", "portfolio_analysis", {"q": 1})
    db.jobs.update_report(job, {"markdown": "x" * 3000})
    db.accounts.update(account, {"cash_balance": 12.5})
    assert db.jobs.find_by_user("user_cold")[0]["report_payload"] == {"markdown": "x" * 3000}
    assert db.positions.find_by_account(account)[0]["symbol"] == "SPY"
    assert db.instruments.find_by_symbol("SPY") is not None
    assert catalog_reads(db_api) == []


def test_a_table_the_package_does_not_know_is_read_live_once(db_client, db_api):
    db_client.execute("CREATE TABLE agent_notes (id serial PRIMARY KEY, body text, score numeric(4,1))")
    db_api.reset_counts()
    for n in range(3):
        db_client.insert("agent_notes", {"body": f"note {n}", "score": "1.5"})
    assert len(catalog_reads(db_api)) == 1
    assert db_client.unbounded_columns("agent_notes") == ["body"]
    with pytest.raises(UnknownColumnError, match="no column"):
        db_client.insert("agent_notes", {"bogus": 1})


def test_a_column_newer_than_the_package_is_found_in_the_live_catalog(db_client, db_api):
    # A database migrated past this package's schema: a caller naming the new column still works.
    db_client.execute("ALTER TABLE accounts ADD COLUMN nickname varchar(40)")
    db = Database(db_client)
    db.users.create_user("user_new", "New")
    account = db.accounts.create_account("user_new", "Taxable")
    db_api.reset_counts()
    assert db_client.update("accounts", {"nickname": "fun money"}, "id = :id::uuid", {"id": account}) == 1
    assert len(catalog_reads(db_api)) == 1
    assert db_client.query_one("SELECT nickname FROM accounts")["nickname"] == "fun money"
    with pytest.raises(UnknownColumnError, match="nickname2"):
        db_client.update("accounts", {"nickname2": "x"}, "true")


def test_a_table_created_inside_a_transaction_is_seen_by_its_writes(db_client):
    with db_client.transaction() as tx:
        tx.execute("CREATE TABLE staging_rows (id int PRIMARY KEY, label text)")
        tx.insert("staging_rows", {"id": 1, "label": "one"})
    assert db_client.query_one("SELECT label FROM staging_rows")["label"] == "one"


def test_verify_reports_where_the_shipped_schema_and_the_snapshot_differ():
    # verify compares the live catalog with the snapshot; this closes the loop to what clients assume.
    from alex_db.authoring.schema_snapshot import read_snapshot
    from alex_db.devtools.verify import shipped_schema_drift
    from tests.conftest import ROOT

    snapshot = read_snapshot(ROOT / "migrations")
    assert shipped_schema_drift(snapshot) == []
    snapshot["tables"]["accounts"]["columns"]["account_name"]["type"] = "character varying(100)"
    snapshot["tables"]["jobs"]["columns"]["priority"] = {"type": "integer", "not_null": False, "default": None}
    messages = [d.message for d in shipped_schema_drift(snapshot)]
    assert messages == [
        "alex_db.shipped_schema: accounts: account_name character varying(255) (snapshot: character varying(100)); "
        "reinstall alex-db or run `make schema`",
        "alex_db.shipped_schema: jobs: priority missing (snapshot: integer); reinstall alex-db or run `make schema`",
    ]


def test_values_that_fit_come_back_in_the_first_call(db_client, db_api):
    db = Database(db_client)
    db.users.create_user("user_list", "Lister")
    reports = [{"markdown": "r" * size} for size in (3_000, 20_000, 40_000, 500)]
    for report in reports:
        db.jobs.update_report(db.jobs.create_job("user_list", "portfolio_analysis"), report)
    db_api.reset_counts()
    listed = db.jobs.find_by_user("user_list")
    assert sorted(len(j["report_payload"]["markdown"]) for j in listed) == [500, 3_000, 20_000, 40_000]
    assert sum(db_api.calls.values()) == 1  # 64 KB of reports: one response, no second call for pieces


def test_rows_sent_whole_never_push_a_response_past_its_limit(db_client, db_api):
    # 30 reports of 50 KB: each fits a row, together 1.5 MB; the engine refuses a response over 1 MiB.
    db = Database(db_client)
    db.users.create_user("user_big", "Big")
    for n in range(30):
        db.jobs.update_report(db.jobs.create_job("user_big", "portfolio_analysis"), {"n": n, "md": "é" * 25_000})
    db_api.reset_counts()
    listed = db.jobs.find_by_user("user_big", limit=100)  # as the course's GET /api/jobs asks
    assert sorted(j["report_payload"]["n"] for j in listed) == list(range(30))
    assert all(j["report_payload"]["md"] == "é" * 25_000 for j in listed)
    # About 20 rows fit one response whole; the rest are read as pieces in the same snapshot.
    assert sum(db_api.calls.values()) <= 6, db_api.calls
