"""The course's web app (backend/api/main.py in ed-donner/alex) on alex_db: each route's call sequence, replayed.

Written here from the course's route code (not copied): a route is the sequence of `db` calls it
makes; the course's `main.py` turns any exception into a 500, so "no exception" is its 200. The
frontend's requests are replayed as its forms send them, including cleared fields.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from alex_db import Database
from tests.conftest import ROOT, make_client

USER = "user_web"


@pytest.fixture
def db(db_client) -> Database:
    database = Database(db_client)
    database.users.create_user(USER, "Web User")
    return database


def put_account(db: Database, account_id: str, form: dict) -> dict:
    """PUT /api/accounts/{id}: find, check the owner, update what the form set, return the row."""
    account = db.accounts.find_by_id(account_id)
    assert account is not None and account["clerk_user_id"] == USER  # else 404 / 403
    db.accounts.update(account_id, form)  # the form's AccountUpdate.model_dump(exclude_unset=True)
    return db.accounts.find_by_id(account_id)


def test_get_accounts_lists_newest_first_as_the_course(db):
    first = db.accounts.create_account(USER, "First", "retirement")
    second = db.accounts.create_account(USER, "Second", "college")
    db.client.execute("UPDATE accounts SET created_at = created_at - interval '1 day' WHERE id = CAST(:id AS uuid)",
                      {"id": first})  # fmt: skip
    assert [a["account_name"] for a in db.accounts.find_by_user(USER)] == ["Second", "First"]
    assert str(db.accounts.find_by_user(USER)[0]["id"]) == second


@pytest.mark.parametrize(
    ("form", "stored"),
    [
        ({"cash_balance": None}, {"cash_balance": Decimal("0.00")}),  # a cleared cash field: no cash recorded
        ({"account_name": ""}, {"account_name": "Brokerage"}),  # a cleared name keeps the old one
        ({"cash_balance": 100.555}, {"cash_balance": Decimal("100.56")}),  # numeric(12,2) rounds half away
        ({"account_name": "Renamed", "account_purpose": ""}, {"account_name": "Renamed", "account_purpose": ""}),
    ],
    ids=["cleared-cash", "cleared-name", "cash-100.555", "rename"],
)
def test_form_edits_of_an_account_answer_200_and_store_what_the_column_would(db, form, stored):
    account_id = db.accounts.create_account(USER, "Brokerage", "growth", Decimal("250.00"))
    row = put_account(db, account_id, form)
    assert {k: row[k] for k in stored} == stored


def test_bad_data_is_still_refused_before_any_write(db, db_api):
    from pydantic import ValidationError

    account_id = db.accounts.create_account(USER, "Brokerage", "growth", Decimal("250.00"))
    db_api.reset_counts()
    for form in ({"cash_balance": -5}, {"cash_balance": "a lot"}):
        with pytest.raises(ValidationError):
            db.accounts.update(account_id, form)
    assert db_api.calls["ExecuteStatement"] == 0
    with pytest.raises(ValidationError, match="must sum to 100"):
        db.instruments.update("SPY", {"allocation_regions": {"north_america": 50}})
    assert db.accounts.find_by_id(account_id)["cash_balance"] == Decimal("250.00")


def test_a_row_invalid_in_one_field_can_still_be_updated_in_another(db):
    # The course's db.client.insert writes what it is given: an instrument with empty allocations.
    empty = {"allocation_regions": {}, "allocation_sectors": {}, "allocation_asset_class": {}}
    db.client.insert("instruments", {"symbol": "NEWX", "name": "New X", "instrument_type": "stock", **empty})
    assert db.instruments.update("NEWX", {"current_price": 12.34}) == 1
    assert db.instruments.find_by_symbol("NEWX")["current_price"] == Decimal("12.3400")


def test_an_update_is_one_call_and_reads_nothing_first(db, db_api):
    account_id = db.accounts.create_account(USER, "Brokerage", "growth", Decimal("250.00"))
    db.accounts.find_by_id(account_id)  # the column types, read once per client
    db_api.reset_counts()
    assert db.accounts.update(account_id, {"cash_balance": 10}) == 1
    assert db_api.calls == {"ExecuteStatement": 1}
    assert put_account(db, account_id, {"account_name": "Again"})["account_name"] == "Again"
    assert sum(db_api.calls.values()) == 1 + 3  # the route: find, update, find


def test_the_courses_test_market_job_type_is_accepted(db):
    job_id = db.jobs.create_job(USER, "test_market", {"symbols": ["SPY"]})  # planner/test_market.py
    assert db.jobs.find_by_id(job_id)["job_type"] == "test_market"


def test_the_frontends_session_gets_the_courses_statuses_in_no_more_calls(db_api, initialized_database):
    # bench/course_figures.json: the same session replayed on the course's own package (how: its "how").
    import json

    from alex_db import schemas
    from bench.course_routes import CourseWebApp, frontend_session

    course = json.loads((ROOT / "bench" / "course_figures.json").read_text())["session"]
    db = Database(make_client(db_api, initialized_database))  # a cold start
    db_api.reset_counts()
    steps = frontend_session(CourseWebApp(db, schemas), "user_session", lambda: sum(db_api.calls.values()))
    assert [(s.label, s.route) for s in steps] == [(label, route) for label, route, _, _ in course]
    assert [s.status for s in steps] == [status for _, _, status, _ in course]
    assert all(s.status == 200 for s in steps)
    over = [(s.label, s.calls, calls) for s, (_, _, _, calls) in zip(steps, course, strict=True) if s.calls > calls]
    assert over == []
    assert not [sql for sql in db_api.statements if "information_schema" in sql]  # no catalog read at cold start


def test_what_the_sessions_form_edits_stored(db_api, initialized_database):
    from alex_db import schemas
    from bench.course_routes import CourseWebApp

    db = Database(make_client(db_api, initialized_database))
    app = CourseWebApp(db, schemas)
    assert app.request("GET /api/user", USER).status == 200
    created = app.request("POST /api/accounts", USER, {"account_name": "Savings", "cash_balance": 0}).body
    path = {"account_id": str(created["id"])}
    form = {"account_name": "Savings", "account_purpose": "Rainy day"}
    changes = ({"cash_balance": 1500.5}, {"cash_balance": None}, {"account_name": ""}, {"cash_balance": 100.555})
    stored = [app.request("PUT /api/accounts/{account_id}", USER, {**form, **c}, **path).body for c in changes]
    assert [(a["account_name"], a["cash_balance"]) for a in stored] == [
        ("Savings", Decimal("1500.50")),
        ("Savings", Decimal("0.00")),  # cleared cash: no cash recorded (the course stores NULL)
        ("Savings", Decimal("0.00")),  # cleared name keeps the stored one (the course stores "")
        ("Savings", Decimal("100.56")),  # numeric(12,2) rounds half away from zero
    ]
    assert app.request("PUT /api/accounts/{account_id}", USER, {"cash_balance": -5}, **path).status == 500
    assert app.request("PUT /api/accounts/{account_id}", "someone_else", {"cash_balance": 1}, **path).status == 403
    assert db.accounts.find_by_id(path["account_id"])["cash_balance"] == Decimal("100.56")


def test_what_the_user_and_position_routes_store(db_api, initialized_database):
    from alex_db import schemas
    from bench.course_routes import CourseWebApp

    app = CourseWebApp(Database(make_client(db_api, initialized_database)), schemas)
    first = app.request("GET /api/user", "user_routes")
    assert first.status == 200 and first.body["created"] is True
    assert first.body["user"]["asset_class_targets"] == {"equity": 70, "fixed_income": 30}
    assert app.request("GET /api/user", "user_routes").body["created"] is False
    settings = {"display_name": "Ada", "years_until_retirement": 25, "target_retirement_income": 80000.5,
                "region_targets": {"north_america": 60, "international": 40}}  # fmt: skip
    saved = app.request("PUT /api/user", "user_routes", settings).body
    assert (saved["display_name"], saved["years_until_retirement"]) == ("Ada", 25)
    assert saved["target_retirement_income"] == Decimal("80000.50")
    assert saved["region_targets"] == {"north_america": 60, "international": 40}
    assert saved["asset_class_targets"] == {"equity": 70, "fixed_income": 30}  # not sent: kept

    account = app.request("POST /api/accounts", "user_routes", {"account_name": "Taxable"}).body
    new = {"account_id": str(account["id"]), "symbol": "zzzz", "quantity": 2.5}
    position = app.request("POST /api/positions", "user_routes", new).body
    assert (position["symbol"], position["quantity"]) == ("ZZZZ", Decimal("2.50000000"))
    assert app.db.instruments.find_by_symbol("ZZZZ")["name"] == "ZZZZ - User Added"
    path = {"position_id": str(position["id"])}
    assert app.request("PUT /api/positions/{position_id}", "user_routes", {"quantity": 0}, **path).body[
        "quantity"
    ] == Decimal("0E-8")  # sold out: kept at 0, as the course's UI edits it
    listed = app.request("GET /api/accounts/{account_id}/positions", "user_routes", account_id=new["account_id"])
    assert [p["instrument"]["symbol"] for p in listed.body["positions"]] == ["ZZZZ"]
    assert app.request("DELETE /api/positions/{position_id}", "someone_else", **path).status == 403
    assert app.request("DELETE /api/positions/{position_id}", "user_routes", **path).status == 200
    assert app.request("DELETE /api/positions/{position_id}", "user_routes", **path).status == 404
