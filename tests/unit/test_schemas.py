"""Schemas: Literal vocabularies, ranges and allocations; errors name the field and the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from alex_db.schemas import AccountCreate, InstrumentCreate, JobCreate, JobUpdate, PositionCreate, UserCreate

SPY = {
    "symbol": "SPY",
    "name": "SPDR S&P 500 ETF Trust",
    "instrument_type": "etf",
    "current_price": "595.00",
    "allocation_regions": {"north_america": 100},
    "allocation_sectors": {"technology": 60, "financials": 40},
    "allocation_asset_class": {"equity": 100},
}


def errors(model, data) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as excinfo:
        model.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in excinfo.value.errors()]


def test_valid_instrument():
    instrument = InstrumentCreate.model_validate(SPY)
    assert instrument.current_price == Decimal("595.00")


def test_allocation_within_tolerance_is_accepted():
    InstrumentCreate.model_validate({**SPY, "allocation_sectors": {"technology": 60.03, "financials": 40}})


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"allocation_sectors": {"technology": 60, "financials": 39}}, "allocation_sectors", "sum to 100"),
        ({"allocation_regions": {}}, "allocation_regions", "must not be empty"),
        ({"allocation_regions": {"mars": 100}}, "allocation_regions.mars.[key]", "Input should be"),
        ({"instrument_type": "crypto"}, "instrument_type", "Input should be"),
        ({"symbol": ""}, "symbol", "at least 1 character"),
        ({"symbol": "X" * 21}, "symbol", "at most 20 characters"),
        ({"current_price": "-1"}, "current_price", "greater than or equal to 0"),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
    ],
)
def test_instrument_errors_name_the_field(change, field, message):
    problems = errors(InstrumentCreate, {**SPY, **change})
    assert any(loc == field and message in msg for loc, msg in problems), problems


def test_user_defaults_match_the_schema_defaults():
    user = UserCreate(clerk_user_id="u1")
    assert user.asset_class_targets == {"equity": 70.0, "fixed_income": 30.0}
    assert user.region_targets == {"north_america": 50.0, "international": 50.0}


def test_account_interest_is_a_rate():
    assert ("cash_interest", "Input should be less than or equal to 1") in errors(
        AccountCreate, {"clerk_user_id": "u", "account_name": "a", "cash_interest": "4.5"}
    )


def test_position_quantity_may_be_zero_but_not_negative():
    account = "00000000-0000-0000-0000-000000000001"
    assert PositionCreate(account_id=account, symbol="SPY", quantity=0).quantity == 0  # sold out, kept
    problems = errors(PositionCreate, {"account_id": account, "symbol": "SPY", "quantity": -1})
    assert ("quantity", "Input should be greater than or equal to 0") in problems


def test_job_vocabularies():
    # Open vocabulary: any lower_snake_case job type (the course's planner/test_market.py uses "test_market").
    assert JobCreate(clerk_user_id="u", job_type="test_market").job_type == "test_market"
    for bad in ("Test Market", "test-market", "", "x" * 51, "1st_job"):
        assert errors(JobCreate, {"clerk_user_id": "u", "job_type": bad})[0][0] == "job_type", bad
    assert errors(JobUpdate, {"status": "done"})[0][0] == "status"
    # The course's vocabulary and rules: instrument_research exists; any status may carry a message.
    assert JobCreate(clerk_user_id="u", job_type="instrument_research").job_type == "instrument_research"
    assert JobUpdate(status="completed", error_message="partial data").error_message == "partial data"
