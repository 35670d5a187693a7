"""Every repository method through DataApiClient + LocalDataApi on the migrated, seeded schema."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from alex_db import Database
from alex_db.client import DataApiError


@pytest.fixture
def db(db_client) -> Database:
    return Database(db_client)


@pytest.fixture
def user(db) -> str:
    return db.users.create_user(clerk_user_id="user_1", display_name="Ada", years_until_retirement=20,
                                target_retirement_income=Decimal("80000"))  # fmt: skip


def test_users(db, user):
    found = db.users.find_by_clerk_id(user)
    assert found["display_name"] == "Ada"
    assert found["target_retirement_income"] == Decimal("80000.00")
    assert found["asset_class_targets"] == {"equity": 70, "fixed_income": 30}
    assert isinstance(found["created_at"], dt.datetime)
    assert db.users.find_by_clerk_id("nobody") is None
    db.users.create_user(clerk_user_id="user_1", display_name="Ada L.")  # idempotent sign-up
    assert db.users.find_by_clerk_id(user)["display_name"] == "Ada L."
    with pytest.raises(ValidationError, match="years_until_retirement"):
        db.users.create_user(clerk_user_id="u2", years_until_retirement=-1)


def test_instruments(db):
    assert len(db.instruments.find_all()) == 22
    spy = db.instruments.find_by_symbol("SPY")
    assert spy["current_price"] == Decimal("595.0000")
    assert spy["allocation_regions"] == {"north_america": 100}
    assert {i["symbol"] for i in db.instruments.find_by_type("etf")} >= {"SPY", "GLD"}
    assert db.instruments.find_by_type("reit") == []
    assert [i["symbol"] for i in db.instruments.search("gold")] == ["GLD"]
    assert db.instruments.search("spy")[0]["symbol"] == "SPY"
    assert db.instruments.search("50%") == []  # wildcards in user text are literal
    assert [i["symbol"] for i in db.instruments.search("S&P 500")] == ["SPY"]


def test_create_instrument_is_a_validated_upsert(db):
    data = {"symbol": "VTI", "name": "Vanguard Total Stock Market ETF", "instrument_type": "etf",
            "current_price": Decimal("290.1234"), "allocation_regions": {"north_america": 100},
            "allocation_sectors": {"technology": 100}, "allocation_asset_class": {"equity": 100}}  # fmt: skip
    assert db.instruments.create_instrument(data) == "VTI"
    db.instruments.create_instrument({**data, "current_price": Decimal("300")})
    assert db.instruments.find_by_symbol("VTI")["current_price"] == Decimal("300.0000")
    with pytest.raises(ValidationError, match="allocation_sectors"):
        db.instruments.create_instrument({**data, "allocation_sectors": {"technology": 90}})


def test_accounts(db, user):
    account_id = db.accounts.create_account(clerk_user_id=user, account_name="401(k)", cash_balance=Decimal("5000"),
                                            cash_interest=Decimal("0.045"))  # fmt: skip
    assert isinstance(account_id, str) and uuid.UUID(account_id)  # ids are str, as in the course
    (account,) = db.accounts.find_by_user(user)
    assert account["cash_interest"] == Decimal("0.0450")
    assert db.accounts.find_by_id(account_id)["account_name"] == "401(k)"
    with pytest.raises(DataApiError, match="violates foreign key constraint"):
        db.accounts.create_account(clerk_user_id="ghost", account_name="x")


def test_positions_and_portfolio_value(db, user):
    account_id = db.accounts.create_account(clerk_user_id=user, account_name="IRA", cash_balance=Decimal("100.50"))
    db.positions.add_position(account_id=account_id, symbol="SPY", quantity=Decimal("10"))
    first = db.positions.add_position(account_id=account_id, symbol="BND", quantity=Decimal("2.5"))
    again = db.positions.add_position(account_id=account_id, symbol="BND", quantity=Decimal("3.12345678"))
    assert first == again  # upsert on (account_id, symbol)
    positions = db.positions.find_by_account(account_id)
    assert [(p["symbol"], p["quantity"]) for p in positions] == [("BND", Decimal("3.12345678")), ("SPY", Decimal("10"))]
    assert positions[1]["instrument_name"] == "SPDR S&P 500 ETF Trust"
    value = db.positions.get_portfolio_value(account_id)
    expected_positions = (Decimal("10") * Decimal("595") + Decimal("3.12345678") * Decimal("72.5")).quantize(
        Decimal("0.01")
    )
    assert value == {
        "num_positions": 2,
        "total_value": expected_positions,  # the course's meaning: positions at current prices
        "total_shares": Decimal("13.12345678"),
        "positions_value": expected_positions,
        "cash_balance": Decimal("100.50"),
        "account_value": expected_positions + Decimal("100.50"),
        "position_count": 2,
    }
    with pytest.raises(LookupError):
        db.positions.get_portfolio_value(uuid.uuid4())
    with pytest.raises(DataApiError, match="violates foreign key constraint"):
        db.positions.add_position(account_id=account_id, symbol="NOPE", quantity=1)


def test_jobs_lifecycle(db, user):
    job_id = db.jobs.create_job(clerk_user_id=user, job_type="portfolio_analysis", request_payload={"depth": 2})
    job = db.jobs.find_by_id(job_id)
    assert (job["status"], job["started_at"], job["request_payload"]) == ("pending", None, {"depth": 2})
    assert db.jobs.update_status(job_id, "running") == 1
    running = db.jobs.find_by_id(job_id)
    assert running["started_at"] is not None and running["completed_at"] is None
    db.jobs.update_report(job_id, {"markdown": "# Report"})
    db.jobs.update_charts(job_id, {"charts": [{"type": "pie"}]})
    db.jobs.update_retirement(job_id, {"success_rate": 0.87})
    db.jobs.update_summary(job_id, {"headline": "ok"})
    db.jobs.update_status(job_id, "completed")
    done = db.jobs.find_by_id(job_id)
    assert done["completed_at"] >= done["started_at"]
    assert done["report_payload"] == {"markdown": "# Report"}
    assert done["retirement_payload"] == {"success_rate": 0.87}
    failed = db.jobs.create_job(clerk_user_id=user, job_type="risk_assessment")
    db.jobs.update_status(failed, "failed", error_message="model timeout")
    assert db.jobs.find_by_id(failed)["error_message"] == "model timeout"
    assert {str(j["id"]) for j in db.jobs.find_by_user(user)} == {job_id, failed}
    assert [str(j["id"]) for j in db.jobs.find_by_user(user, status="failed")] == [failed]
    assert db.jobs.update_status(uuid.uuid4(), "running") == 0
    with pytest.raises(ValidationError):
        db.jobs.update_status(job_id, "exploded")
    with pytest.raises(TypeError, match="report_payload must be a JSON object"):
        db.jobs.update_report(job_id, ["not", "an", "object"])


def test_updated_at_trigger(db, user, db_client):
    before = db.users.find_by_clerk_id(user)["updated_at"]
    db_client.execute("UPDATE users SET display_name = 'Changed' WHERE clerk_user_id = :id", {"id": user})
    assert db.users.find_by_clerk_id(user)["updated_at"] > before


def test_test_data_is_written_all_or_nothing(db_client, monkeypatch):
    from alex_db.devtools.sample_data import load_test_data, read_test_data
    from alex_db.repositories import Positions
    from tests.conftest import SEED_DIR

    data = read_test_data(SEED_DIR / "test_user.json", {"SPY", "QQQ", "BND", "VEA", "GLD"})
    original, calls = Positions.add_position, []

    def failing_third(self, position):
        calls.append(position.symbol)
        if len(calls) == 3:
            raise RuntimeError("simulated failure mid-load")
        return original(self, position)

    monkeypatch.setattr(Positions, "add_position", failing_third)
    with pytest.raises(RuntimeError, match="mid-load"):
        load_test_data(db_client, data)
    assert db_client.query_one("SELECT count(*) AS n FROM users") == {"n": 0}
    assert db_client.query_one("SELECT count(*) AS n FROM positions") == {"n": 0}
    monkeypatch.setattr(Positions, "add_position", original)
    assert load_test_data(db_client, data) == {"user": "test_user_001", "accounts": 3, "positions": 5}
