"""Sample data for `reset --with-test-data`: the original guide's test user, accounts and positions."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient
from alex_db.errors import SeedError


class TestDataError(SeedError):
    """The test-data file does not pass the schemas; nothing was written."""


def read_test_data(path: str | Path, seed_symbols: set[str]) -> dict[str, Any]:
    """The original guide's test user, accounts and positions, validated by the schemas before any write."""

    from pydantic import ValidationError

    from alex_db.schemas import AccountCreate, PositionCreate, UserCreate

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        problems: list[str] = []

        def check(model: Any, where: str, fields: dict[str, Any]) -> Any:
            try:
                return model.model_validate(fields)
            except ValidationError as exc:
                problems.extend(f"{where}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())

        user = check(UserCreate, "user", data["user"])
        accounts = []
        for i, account in enumerate(data["accounts"]):
            fields = {k: v for k, v in account.items() if k != "positions"}
            where = f"accounts[{i}]"
            valid = check(AccountCreate, where, {**fields, "clerk_user_id": data["user"].get("clerk_user_id")})
            positions = []
            for j, position in enumerate(account.get("positions", [])):
                # The account id exists only after the insert; a placeholder lets the schema check the rest.
                p = check(PositionCreate, f"{where}.positions[{j}]", {**position, "account_id": uuid.UUID(int=0)})
                if p is not None and p.symbol not in seed_symbols:
                    problems.append(f"{where}.positions[{j}].symbol: {p.symbol} is not a seed instrument")
                positions.append(p)
            accounts.append((valid, positions))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TestDataError(f"{path.name}: unreadable test data: {exc!r}") from None
    if problems:
        raise TestDataError(f"{path.name}: " + "; ".join(problems))
    return {"user": user, "accounts": accounts}


def load_test_data(client: DataApiClient, data: dict[str, Any]) -> dict[str, Any]:
    """Write validated test data (from read_test_data) in one transaction; idempotent by name."""
    from alex_db.database import Database

    with client.transaction() as tx:
        db = Database(tx)
        user_id = db.users.create_user(data["user"])
        existing = {a["account_name"]: a["id"] for a in db.accounts.find_by_user(user_id)}
        positions = 0
        for account, account_positions in data["accounts"]:
            account_id = existing.get(account.account_name) or db.accounts.create_account(account)
            for position in account_positions:
                db.positions.add_position(position.model_copy(update={"account_id": uuid.UUID(str(account_id))}))
                positions += 1
    return {"user": user_id, "accounts": len(data["accounts"]), "positions": positions}
