"""The Alex course's agents and API run on alex_db unchanged: their call shapes, on real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from alex_db import Database
from alex_db.client import DataApiClient
from alex_db.errors import ConfigurationError, UnknownColumnError
from alex_db.schemas import AccountCreate, AccountType, InstrumentCreate, JobCreate
from tests.conftest import CLUSTER_ARN, SECRET_ARN


@pytest.fixture
def db(db_client) -> Database:
    return Database(db_client)


def test_database_reads_the_course_environment(db_api, initialized_database, monkeypatch):
    monkeypatch.setenv("AURORA_CLUSTER_ARN", CLUSTER_ARN)
    monkeypatch.setenv("AURORA_SECRET_ARN", SECRET_ARN)
    monkeypatch.setenv("AURORA_DATABASE", initialized_database)
    monkeypatch.setattr("alex_db.client.boto3_rds_data_client", lambda region=None: db_api)
    db = Database()  # the course's constructor: no arguments
    assert isinstance(db.client, DataApiClient) and db.client.database == initialized_database
    assert len(db.instruments.find_all()) == 22
    explicit = Database(
        cluster_arn=CLUSTER_ARN, secret_arn=SECRET_ARN, database=initialized_database, region="eu-west-1"
    )
    assert explicit.instruments.find_by_symbol("SPY")["symbol"] == "SPY"


def test_missing_configuration_names_the_variables(monkeypatch):
    for name in ("AURORA_CLUSTER_ARN", "AURORA_SECRET_ARN", "AURORA_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="AURORA_CLUSTER_ARN, AURORA_SECRET_ARN not set"):
        Database()


def test_agent_flow_end_to_end(db):
    """user -> 3 accounts -> 5 positions -> job pending -> running -> payloads -> completed -> read back."""
    assert db.users.create_user("user_e2e", "Ada", 20, Decimal("80000")) == "user_e2e"
    accounts = [
        db.accounts.create_account("user_e2e", "401k", "Retirement", Decimal("1000"), Decimal("0.045")),
        db.accounts.create_account("user_e2e", "Roth IRA"),
        db.accounts.create_account(clerk_user_id="user_e2e", account_name="Taxable", cash_balance=Decimal("50")),
    ]
    assert all(isinstance(a, str) and uuid.UUID(a) for a in accounts)
    assert accounts[0][:8] == str(db.accounts.find_by_id(accounts[0])["id"])[:8]  # the course slices ids
    for account, symbol, quantity in [(0, "SPY", 10), (0, "BND", 20), (1, "QQQ", "5.5"), (2, "VEA", 7), (2, "GLD", 1)]:
        position_id = db.positions.add_position(accounts[account], symbol, Decimal(str(quantity)))
        assert isinstance(position_id, str)
    assert sum(len(db.positions.find_by_account(a)) for a in accounts) == 5

    job_id = db.jobs.create_job("user_e2e", "portfolio_analysis", {"depth": 2})
    assert db.jobs.find_by_id(job_id)["status"] == "pending"
    db.jobs.update_status(job_id, "running")
    report = {"content": "# Report\n" + "x" * 100_000}
    charts = {"charts": [{"title": "Allocation", "data": [{"name": "SPY", "value": 60.5}]}]}
    retirement = {"success_rate": 87.5, "projections": list(range(30))}
    summary = {"headline": "On track", "steps": ["rebalance"]}
    assert db.jobs.update_report(job_id, report) == 1
    assert db.jobs.update_charts(job_id, charts) == 1
    assert db.jobs.update_retirement(job_id, retirement) == 1
    assert db.jobs.update_summary(job_id, summary) == 1
    db.jobs.update_status(job_id, "completed")

    for job in (db.jobs.find_by_id(job_id), db.jobs.find_by_user("user_e2e")[0]):
        assert job["status"] == "completed" and job["started_at"] and job["completed_at"]
        assert (job["report_payload"], job["charts_payload"]) == (report, charts)
        assert (job["retirement_payload"], job["summary_payload"]) == (retirement, summary)
        assert job["request_payload"] == {"depth": 2}


def test_position_edited_to_zero_is_kept(db, db_client):
    db.users.create_user("user_zero")
    account = db.accounts.create_account("user_zero", "Brokerage")
    position_id = db.positions.add_position(account, "SPY", 3)
    assert db.positions.update(position_id, {"quantity": 0}) == 1  # the course's UI edit
    assert db.positions.find_by_id(position_id)["quantity"] == 0
    with pytest.raises(ValidationError, match="quantity"):
        db.positions.update(position_id, {"quantity": -1})
    assert db.positions.find_by_id(position_id)["quantity"] == 0


def test_instrument_research_job_and_any_status_message(db):
    db.users.create_user("user_research")
    job_id = db.jobs.create_job(clerk_user_id="user_research", job_type="instrument_research")
    assert db.jobs.update_status(job_id, "completed", error_message="2 symbols had no price") == 1
    assert db.jobs.find_by_id(job_id)["error_message"] == "2 symbols had no price"
    # The course's tests create jobs from a JobCreate dump through the generic create().
    other = db.jobs.create(JobCreate(clerk_user_id="user_research", job_type="risk_assessment").model_dump())
    assert db.jobs.find_by_id(other)["job_type"] == "risk_assessment"
    assert db.jobs.delete(other) == 1 and db.jobs.find_by_id(other) is None


def test_stock_instrument_created_and_priced_through_the_client(db):
    # What the course's API does for a user-added ticker, then what its market updater does.
    stock = InstrumentCreate(symbol="aapl", name="AAPL - User Added", instrument_type="stock",
                             current_price=Decimal("0.00"), allocation_regions={"north_america": 100.0},
                             allocation_sectors={"other": 100.0}, allocation_asset_class={"equity": 100.0})  # fmt: skip
    assert db.instruments.create_instrument(stock) == "AAPL"
    rows = db.client.update("instruments", {"current_price": 189.5}, "symbol = :symbol", {"symbol": "AAPL"})
    assert rows == 1
    assert db.instruments.find_by_symbol("AAPL")["current_price"] == Decimal("189.5000")
    assert [i["symbol"] for i in db.instruments.find_by_type("stock")] == ["AAPL"]
    assert {i["symbol"] for i in db.instruments.find_by_type("bond_fund")} == {"AGG", "BND", "TLT", "HYG"}
    assert db.instruments.search("aap")[0]["symbol"] == "AAPL"


def test_generic_crud_uses_each_tables_real_key(db):
    assert db.users.create({"clerk_user_id": "user_crud", "display_name": "C"}) == "user_crud"
    assert db.users.find_by_id("user_crud")["display_name"] == "C"
    assert db.users.update("user_crud", {"years_until_retirement": 12}) == 1
    assert db.instruments.find_by_id("SPY")["symbol"] == "SPY"
    page = db.accounts.find_all(limit=2, offset=0)
    assert isinstance(page, list) and len(page) <= 2
    account = db.accounts.create({"clerk_user_id": "user_crud", "account_name": "HSA"})
    assert db.accounts.update(account, {"account_name": "Health"}) == 1
    assert db.accounts.find_by_id(account)["account_name"] == "Health"
    assert db.accounts.delete(account) == 1


def test_client_helpers_insert_update_delete(db):
    user_data = {"clerk_user_id": "user_helpers", "display_name": "H", "years_until_retirement": 20,
                 "target_retirement_income": 60000, "asset_class_targets": {"equity": 70, "fixed_income": 30},
                 "region_targets": {"north_america": 50, "international": 50}}  # fmt: skip
    assert db.users.db.insert("users", user_data, returning="clerk_user_id") == "user_helpers"
    account = db.client.insert("accounts", {"clerk_user_id": "user_helpers", "account_name": "A"}, returning="id")
    assert isinstance(account, str)
    assert db.client.update("accounts", {"cash_balance": "12.34"}, "id = :id::uuid", {"id": account}) == 1
    assert db.accounts.find_by_id(account)["cash_balance"] == Decimal("12.34")
    assert db.client.delete("accounts", "id = :id::uuid", {"id": account}) == 1


def test_raw_sql_takes_a_mapping_or_sql_parameters(db):
    params = [{"name": "type", "value": {"stringValue": "bond_fund"}}]
    assert len(db.query_raw("SELECT symbol FROM instruments WHERE instrument_type = :type", params)) == 4
    assert len(db.query_raw("SELECT symbol FROM instruments WHERE instrument_type = :type", {"type": "etf"})) == 18
    result = db.execute_raw("UPDATE instruments SET name = name WHERE symbol = :s", {"s": "SPY"})
    assert result.rowcount == 1
    # The course's planner calls `db.db.execute(...)` and iterates the rows.
    assert {r["symbol"] for r in db.db.execute("SELECT DISTINCT symbol FROM instruments")} >= {"SPY"}


def test_rows_become_json_with_one_default(db):
    row = db.instruments.find_by_symbol("SPY")
    text = json.dumps(row, default=str)  # Decimal, datetime and UUID all have exact str forms
    assert json.loads(text)["current_price"] == "595.0000"


def test_course_request_bodies_validate(db):
    body = AccountCreate.model_validate({"account_name": "Roth IRA", "cash_balance": "100"})  # no clerk_user_id
    db.users.create_user("user_body")
    account = db.accounts.create_account("user_body", body.account_name, cash_balance=body.cash_balance)
    assert db.accounts.find_by_id(account)["cash_balance"] == Decimal("100.00")


def test_bad_input_is_precise_and_writes_nothing(db):
    db.users.create_user("user_bad")
    account = db.accounts.create_account("user_bad", "Main")
    with pytest.raises(UnknownColumnError, match=r"accounts has no column\(s\) 'colour'"):
        db.accounts.update(account, {"colour": "red"})
    with pytest.raises(UnknownColumnError, match="accounts has no column"):
        db.client.update("accounts", {"account_name": "x", "bogus; DROP TABLE users": 1}, "id = :id::uuid",
                         {"id": account})  # fmt: skip
    with pytest.raises(UnknownColumnError, match="table 'nope' does not exist"):
        db.client.insert("nope", {"a": 1})
    with pytest.raises(ValidationError, match="must sum to 100"):
        db.instruments.create_instrument(symbol="BAD", name="Bad", instrument_type="etf",
                                         allocation_regions={"europe": 50}, allocation_sectors={"other": 100},
                                         allocation_asset_class={"equity": 100})  # fmt: skip
    with pytest.raises(ValidationError, match="Input should be '401k'"):
        TypeAdapter(AccountType).validate_python("brokerage")
    assert TypeAdapter(AccountType).validate_python("529") == "529"
    assert db.accounts.find_by_id(account)["account_name"] == "Main"
    assert db.instruments.find_by_symbol("BAD") is None
