"""The course's web app (backend/api/main.py in ed-donner/alex) as the `db` calls each route makes, for replays.

Written here from the course's route code, not copied: each method is one route, making the same
`db` calls in the same order with the same arguments, and answering the status the course's app
would. `main.py` validates the request body with its own request models (422 when they refuse it),
turns an HTTPException into its status and every other exception inside a route into a 500.
`Database` and the request schemas (`AccountCreate`, `PositionCreate`, `InstrumentCreate`) are
injected, so the same replay runs on alex_db and on the course's own package (`src`).

`frontend_session` is the sequence of requests the course's Next.js pages send for one user
(dashboard, accounts, account detail with its forms, advisor team), including the form edits that
send a cleared field (`parseFloat("")` is NaN, which JSON.stringify sends as null).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError


class HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


# The request models main.py declares for its routes (the package's schemas validate the others).
class UserUpdate(BaseModel):
    display_name: str | None = None
    years_until_retirement: int | None = None
    target_retirement_income: float | None = None
    asset_class_targets: dict[str, float] | None = None
    region_targets: dict[str, float] | None = None


class AccountUpdate(BaseModel):
    account_name: str | None = None
    account_purpose: str | None = None
    cash_balance: float | None = None


class PositionUpdate(BaseModel):
    quantity: float | None = None


class AnalyzeRequest(BaseModel):
    analysis_type: str = "portfolio"
    options: dict[str, Any] = {}


# populate-test-data's five stocks and three accounts, as main.py defines them.
TEST_STOCKS = {
    "AAPL": ("Apple Inc.", "195.89", "technology"),
    "AMZN": ("Amazon.com Inc.", "178.35", "consumer_discretionary"),
    "NVDA": ("NVIDIA Corporation", "522.74", "technology"),
    "MSFT": ("Microsoft Corporation", "430.82", "technology"),
    "GOOGL": ("Alphabet Inc. Class A", "173.69", "technology"),
}
TEST_ACCOUNTS = [
    ("401k Long-term", "Primary retirement savings account with employer match", "5000.00",
     [("SPY", 150), ("VTI", 100), ("BND", 200), ("QQQ", 75), ("IWM", 50)]),
    ("Roth IRA", "Tax-free retirement growth account", "2500.00",
     [("VTI", 80), ("VXUS", 60), ("VNQ", 40), ("GLD", 25), ("TLT", 30), ("VIG", 45)]),
    ("Brokerage Account", "Taxable investment account for individual stocks", "10000.00",
     [("TSLA", 15), ("AAPL", 50), ("AMZN", 10), ("NVDA", 25), ("MSFT", 30), ("GOOGL", 20)]),
]  # fmt: skip


@dataclass
class Response:
    status: int
    body: Any = None


class CourseWebApp:
    """The routes of the course's FastAPI app over a `db` (alex_db's Database or the course's)."""

    def __init__(self, db: Any, schemas: Any) -> None:
        self.db, self.schemas = db, schemas

    def request(self, route: str, user: str, body: dict[str, Any] | None = None, **path: str) -> Response:
        """Answer `route` (e.g. "PUT /api/accounts/{account_id}") as the course's app would."""
        handler, model = ROUTES[route]
        if isinstance(model, str):
            model = getattr(self.schemas, model)  # the package's own request schema
        try:
            parsed = model.model_validate(body or {}) if model is not None else None
        except ValidationError:
            return Response(422)  # FastAPI refuses the body before the route runs
        try:
            return Response(200, handler(self, user, parsed, **path))
        except HTTPError as exc:
            return Response(exc.status)
        except Exception:  # main.py: any other exception inside a route is a 500
            return Response(500)

    # -- user

    def get_user(self, user: str, _body: Any) -> dict[str, Any]:
        found = self.db.users.find_by_clerk_id(user)
        if found:
            return {"user": found, "created": False}
        self.db.users.db.insert("users", {
            "clerk_user_id": user, "display_name": "New User", "years_until_retirement": 20,
            "target_retirement_income": 60000, "asset_class_targets": {"equity": 70, "fixed_income": 30},
            "region_targets": {"north_america": 50, "international": 50},
        }, returning="clerk_user_id")  # fmt: skip
        return {"user": self.db.users.find_by_clerk_id(user), "created": True}

    def put_user(self, user: str, body: UserUpdate) -> dict[str, Any]:
        if not self.db.users.find_by_clerk_id(user):
            raise HTTPError(404)
        changes = body.model_dump(exclude_unset=True)
        self.db.users.db.update("users", changes, "clerk_user_id = :clerk_user_id", {"clerk_user_id": user})
        return self.db.users.find_by_clerk_id(user)

    # -- accounts

    def get_accounts(self, user: str, _body: Any) -> list[dict[str, Any]]:
        return self.db.accounts.find_by_user(user)

    def post_account(self, user: str, body: Any) -> dict[str, Any]:
        if not self.db.users.find_by_clerk_id(user):
            raise HTTPError(404)
        account_id = self.db.accounts.create_account(
            clerk_user_id=user, account_name=body.account_name, account_purpose=body.account_purpose,
            cash_balance=getattr(body, "cash_balance", Decimal("0")),
        )  # fmt: skip
        return self.db.accounts.find_by_id(account_id)

    def _own_account(self, user: str, account_id: str) -> dict[str, Any]:
        account = self.db.accounts.find_by_id(account_id)
        if not account:
            raise HTTPError(404)
        if account.get("clerk_user_id") != user:
            raise HTTPError(403)
        return account

    def put_account(self, user: str, body: AccountUpdate, account_id: str) -> dict[str, Any]:
        self._own_account(user, account_id)
        self.db.accounts.update(account_id, body.model_dump(exclude_unset=True))
        return self.db.accounts.find_by_id(account_id)

    def delete_account(self, user: str, _body: Any, account_id: str) -> dict[str, str]:
        self._own_account(user, account_id)
        for position in self.db.positions.find_by_account(account_id):
            self.db.positions.delete(position["id"])
        self.db.accounts.delete(account_id)
        return {"message": "Account deleted successfully"}

    # -- positions

    def get_positions(self, user: str, _body: Any, account_id: str) -> dict[str, Any]:
        self._own_account(user, account_id)
        positions = self.db.positions.find_by_account(account_id)
        return {"positions": [{**p, "instrument": self.db.instruments.find_by_symbol(p["symbol"])} for p in positions]}

    def post_position(self, user: str, body: Any) -> dict[str, Any]:
        self._own_account(user, body.account_id)
        symbol = body.symbol.upper()
        if not self.db.instruments.find_by_symbol(symbol):
            kind = "stock" if len(symbol) <= 5 and symbol.isalpha() else "etf"
            self.db.instruments.create_instrument(self.schemas.InstrumentCreate(
                symbol=symbol, name=f"{symbol} - User Added", instrument_type=kind, current_price=Decimal("0.00"),
                allocation_regions={"north_america": 100.0}, allocation_sectors={"other": 100.0},
                allocation_asset_class={"equity": 100.0} if kind == "stock" else {"fixed_income": 100.0},
            ))  # fmt: skip
        position_id = self.db.positions.add_position(account_id=body.account_id, symbol=symbol, quantity=body.quantity)
        return self.db.positions.find_by_id(position_id)

    def _own_position(self, user: str, position_id: str) -> dict[str, Any]:
        position = self.db.positions.find_by_id(position_id)
        if not position:
            raise HTTPError(404)
        account = self.db.accounts.find_by_id(position["account_id"])
        if not account:
            raise HTTPError(404)
        if account.get("clerk_user_id") != user:
            raise HTTPError(403)
        return position

    def put_position(self, user: str, body: PositionUpdate, position_id: str) -> dict[str, Any]:
        self._own_position(user, position_id)
        self.db.positions.update(position_id, body.model_dump(exclude_unset=True))
        return self.db.positions.find_by_id(position_id)

    def delete_position(self, user: str, _body: Any, position_id: str) -> dict[str, str]:
        self._own_position(user, position_id)
        self.db.positions.delete(position_id)
        return {"message": "Position deleted"}

    def get_instruments(self, _user: str, _body: Any) -> list[dict[str, Any]]:
        return [
            {"symbol": i["symbol"], "name": i["name"], "instrument_type": i["instrument_type"],
             "current_price": float(i["current_price"]) if i.get("current_price") else None}
            for i in self.db.instruments.find_all()
        ]  # fmt: skip

    # -- jobs

    def post_analyze(self, user: str, body: AnalyzeRequest) -> dict[str, str]:
        if not self.db.users.find_by_clerk_id(user):
            raise HTTPError(404)
        job_id = self.db.jobs.create_job(clerk_user_id=user, job_type="portfolio_analysis",
                                         request_payload=body.model_dump())  # fmt: skip
        self.db.jobs.find_by_id(job_id)
        return {"job_id": str(job_id), "message": "Analysis started. Check job status for results."}

    def get_job(self, user: str, _body: Any, job_id: str) -> dict[str, Any]:
        job = self.db.jobs.find_by_id(job_id)
        if not job:
            raise HTTPError(404)
        if job.get("clerk_user_id") != user:
            raise HTTPError(403)
        return job

    def get_jobs(self, user: str, _body: Any) -> dict[str, Any]:
        jobs = self.db.jobs.find_by_user(user, limit=100)
        jobs.sort(key=lambda j: j.get("created_at", ""), reverse=True)
        return {"jobs": jobs}

    # -- test data

    def reset_accounts(self, user: str, _body: Any) -> dict[str, Any]:
        if not self.db.users.find_by_clerk_id(user):
            raise HTTPError(404)
        deleted = 0
        for account in self.db.accounts.find_by_user(user):
            try:
                self.db.accounts.delete(account["id"])
                deleted += 1
            except Exception:  # main.py logs and goes on
                continue
        return {"accounts_deleted": deleted}

    def populate_test_data(self, user: str, _body: Any) -> dict[str, Any]:
        if not self.db.users.find_by_clerk_id(user):
            raise HTTPError(404)
        for symbol, (name, price, sector) in TEST_STOCKS.items():
            if not self.db.instruments.find_by_symbol(symbol):
                try:
                    self.db.instruments.create_instrument(self.schemas.InstrumentCreate(
                        symbol=symbol, name=name, instrument_type="stock", current_price=Decimal(price),
                        allocation_regions={"north_america": 100}, allocation_sectors={sector: 100},
                        allocation_asset_class={"equity": 100},
                    ))  # fmt: skip
                except Exception:  # main.py logs and goes on
                    continue
        created = []
        for name, purpose, cash, positions in TEST_ACCOUNTS:
            account_id = self.db.accounts.create_account(
                clerk_user_id=user, account_name=name, account_purpose=purpose, cash_balance=Decimal(cash)
            )
            for symbol, quantity in positions:
                try:
                    self.db.positions.add_position(account_id=account_id, symbol=symbol, quantity=Decimal(quantity))
                except Exception:  # main.py logs and goes on (TSLA is not seeded)
                    continue
            created.append(account_id)
        accounts = []
        for account_id in created:
            account = self.db.accounts.find_by_id(account_id)
            account["positions"] = self.db.positions.find_by_account(account_id)
            accounts.append(account)
        return {"accounts_created": len(created), "accounts": accounts}


ROUTES: dict[str, tuple[Callable[..., Any], Any]] = {
    "GET /api/user": (CourseWebApp.get_user, None),
    "PUT /api/user": (CourseWebApp.put_user, UserUpdate),
    "GET /api/accounts": (CourseWebApp.get_accounts, None),
    "POST /api/accounts": (CourseWebApp.post_account, "AccountCreate"),
    "PUT /api/accounts/{account_id}": (CourseWebApp.put_account, AccountUpdate),
    "DELETE /api/accounts/{account_id}": (CourseWebApp.delete_account, None),
    "GET /api/accounts/{account_id}/positions": (CourseWebApp.get_positions, None),
    "POST /api/positions": (CourseWebApp.post_position, "PositionCreate"),
    "PUT /api/positions/{position_id}": (CourseWebApp.put_position, PositionUpdate),
    "DELETE /api/positions/{position_id}": (CourseWebApp.delete_position, None),
    "GET /api/instruments": (CourseWebApp.get_instruments, None),
    "POST /api/analyze": (CourseWebApp.post_analyze, AnalyzeRequest),
    "GET /api/jobs/{job_id}": (CourseWebApp.get_job, None),
    "GET /api/jobs": (CourseWebApp.get_jobs, None),
    "DELETE /api/reset-accounts": (CourseWebApp.reset_accounts, None),
    "POST /api/populate-test-data": (CourseWebApp.populate_test_data, None),
}


@dataclass(frozen=True)
class Step:
    """One request of a replay: what was sent, the status the app answered, the Data API calls it made."""

    label: str
    route: str
    status: int
    calls: int


AGENT_REPORT = {"markdown": "## Portfolio analysis\n" + "Diversified across regions and sectors. " * 75}  # ~3 KB


def frontend_session(app: CourseWebApp, user: str, calls: Callable[[], int]) -> list[Step]:
    """The requests the course's pages send for one new user, in order; `calls()` is the running call count."""
    steps: list[Step] = []

    def send(label: str, route: str, body: dict[str, Any] | None = None, **path: str) -> Any:
        before = calls()
        response = app.request(route, user, body, **path)
        steps.append(Step(label, route, response.status, calls() - before))
        return response.body

    # dashboard.tsx: the user (created on first sight), then the accounts and their positions
    send("first visit", "GET /api/user")
    send("returning", "GET /api/user")
    send("no accounts yet", "GET /api/accounts")
    # accounts.tsx: populate test data, then the list again with each account's positions
    send("populate", "POST /api/populate-test-data")
    for account in send("after populate", "GET /api/accounts"):
        send("dashboard positions", "GET /api/accounts/{account_id}/positions", account_id=str(account["id"]))
    # dashboard.tsx: save the settings form
    send("settings", "PUT /api/user", {
        "display_name": "Ada", "years_until_retirement": 25, "target_retirement_income": 80000,
        "asset_class_targets": {"equity": 60, "fixed_income": 40},
        "region_targets": {"north_america": 60, "international": 40},
    })  # fmt: skip
    # accounts.tsx: add an account (an empty cash field is sent as 0)
    new_account = {"account_name": "Savings", "account_purpose": "Investment Account", "cash_balance": 0}
    account_id = str(send("add account", "POST /api/accounts", new_account)["id"])
    # accounts/[id].tsx: the detail page loads, then its edit form is saved four ways
    send("detail: accounts", "GET /api/accounts")
    send("detail: positions", "GET /api/accounts/{account_id}/positions", account_id=account_id)
    send("detail: instruments", "GET /api/instruments")
    form = {"account_name": "Savings", "account_purpose": "Rainy day"}
    send("edit", "PUT /api/accounts/{account_id}", {**form, "cash_balance": 1500.5}, account_id=account_id)
    send("edit: cash cleared", "PUT /api/accounts/{account_id}", {**form, "cash_balance": None}, account_id=account_id)
    send("edit: name cleared", "PUT /api/accounts/{account_id}", {**form, "account_name": "", "cash_balance": 10},
         account_id=account_id)  # fmt: skip
    send("edit: cash 100.555", "PUT /api/accounts/{account_id}", {**form, "cash_balance": 100.555},
         account_id=account_id)  # fmt: skip
    # accounts/[id].tsx: positions added (a seeded ETF, then a ticker nobody has added), edited, deleted
    send("add SPY", "POST /api/positions", {"account_id": account_id, "symbol": "spy", "quantity": 10})
    added = send("add new ticker", "POST /api/positions", {"account_id": account_id, "symbol": "ZZZZ", "quantity": 2.5})
    send("edit quantity", "PUT /api/positions/{position_id}", {"quantity": 12}, position_id=str(added["id"]))
    send("delete position", "DELETE /api/positions/{position_id}", position_id=str(added["id"]))
    # advisor-team.tsx: start an analysis, poll it, the agents write their results, list the jobs
    job_id = send("analyze", "POST /api/analyze", {"analysis_type": "portfolio", "options": {}})["job_id"]
    send("poll", "GET /api/jobs/{job_id}", job_id=job_id)
    app.db.jobs.update_report(job_id, AGENT_REPORT)  # the agents' work: not a request of the web app
    app.db.jobs.update_status(job_id, "completed")
    send("poll: done", "GET /api/jobs/{job_id}", job_id=job_id)
    send("job history", "GET /api/jobs")
    # accounts.tsx: delete the new account, then reset every account
    send("delete account", "DELETE /api/accounts/{account_id}", account_id=account_id)
    send("reset", "DELETE /api/reset-accounts")
    send("after reset", "GET /api/accounts")
    return steps


SCALE_INSTRUMENTS = ["SPY", "BND", "VTI", "VXUS", "QQQ", "IWM", "EFA", "AGG", "VNQ", "GLD"]


def scale_user(db: Any, user: str, user_num: int, num_accounts: int, num_positions: int) -> str:
    """backend/test_scale.py's create_test_user: a user, its accounts and positions, one job (returns the job id)."""
    db.users.create_user(
        clerk_user_id=user, display_name=f"Scale Test User {user_num}",
        years_until_retirement=20 + user_num * 5, target_retirement_income=50000 + user_num * 10000,
    )  # fmt: skip
    for i, symbol in enumerate(SCALE_INSTRUMENTS):
        if not db.instruments.find_by_symbol(symbol):
            db.instruments.create({
                "symbol": symbol, "name": f"Test ETF {symbol}", "instrument_type": "etf",
                "current_price": 100.0 + i * 50,
                "allocation_asset_class": {"equity": 100.0} if i % 2 == 0 else {"fixed_income": 100.0},
                "allocation_regions": {"north_america": 100.0}, "allocation_sectors": {"other": 100.0},
            }, returning="symbol")  # fmt: skip
    accounts, positions = max(num_accounts, 1), 0
    for number in range(1, accounts + 1):
        account_id = db.accounts.create_account(clerk_user_id=user, account_name=f"Account {number}",
                                                account_purpose="test", cash_balance=1000.0 * number)  # fmt: skip
        share = num_positions // accounts + (1 if number <= num_positions % accounts else 0)
        for _ in range(share):
            if positions >= num_positions:
                break
            db.positions.add_position(account_id, SCALE_INSTRUMENTS[positions % 10], 10.0 * (positions + 1))
            positions += 1
    return db.jobs.create({"clerk_user_id": user, "job_type": "portfolio_analysis", "status": "pending",
                           "request_payload": {"test": f"scale_user_{user_num}"}})  # fmt: skip


# test_scale.py's five users: (accounts, positions)
SCALE_CONFIGS = [(1, 0), (1, 3), (2, 5), (3, 10), (2, 7)]
