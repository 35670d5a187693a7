"""Repositories the agents use: users, instruments, accounts, positions, jobs (validated by schemas)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from alex_db.client import DataApiClient, Transaction
from alex_db.schemas import (
    AccountCreate,
    InstrumentCreate,
    InstrumentType,
    JobCreate,
    JobStatus,
    JobUpdate,
    PositionCreate,
    UserCreate,
)
from alex_db.statements import INSTRUMENT_UPSERT_SQL, instrument_parameters

M = TypeVar("M", bound=BaseModel)
Row = dict[str, Any]


def validated(model: type[M], data: M | dict[str, Any] | None = None, **fields: Any) -> M:
    if isinstance(data, model):
        return data
    return model.model_validate({**(data or {}), **fields})


class _Repository:
    def __init__(self, client: DataApiClient | Transaction) -> None:
        self.client = client


class Users(_Repository):
    def find_by_clerk_id(self, clerk_user_id: str) -> Row | None:
        return self.client.query_one("SELECT * FROM users WHERE clerk_user_id = :id", {"id": clerk_user_id})

    def create_user(self, user: UserCreate | dict[str, Any] | None = None, **fields: Any) -> str:
        """Insert the user, or update the profile if the Clerk id exists (sign-up is retried by clients)."""
        user = validated(UserCreate, user, **fields)
        row = self.client.query_one(
            """
            INSERT INTO users (clerk_user_id, display_name, years_until_retirement, target_retirement_income,
                               asset_class_targets, region_targets)
            VALUES (:clerk_user_id, :display_name, :years_until_retirement, :target_retirement_income,
                    :asset_class_targets, :region_targets)
            ON CONFLICT (clerk_user_id) DO UPDATE SET
                display_name = EXCLUDED.display_name,
                years_until_retirement = EXCLUDED.years_until_retirement,
                target_retirement_income = EXCLUDED.target_retirement_income,
                asset_class_targets = EXCLUDED.asset_class_targets,
                region_targets = EXCLUDED.region_targets
            RETURNING clerk_user_id
            """,
            user.model_dump(),
        )
        assert row is not None
        return row["clerk_user_id"]


class Instruments(_Repository):
    def find_all(self) -> list[Row]:
        return self.client.query("SELECT * FROM instruments ORDER BY symbol")

    def find_by_symbol(self, symbol: str) -> Row | None:
        return self.client.query_one("SELECT * FROM instruments WHERE symbol = :symbol", {"symbol": symbol})

    def find_by_type(self, instrument_type: InstrumentType) -> list[Row]:
        return self.client.query(
            "SELECT * FROM instruments WHERE instrument_type = :type ORDER BY symbol", {"type": instrument_type}
        )

    def search(self, text: str, limit: int = 10) -> list[Row]:
        """Symbol or name containing `text` literally (case-insensitive); exact symbol matches first."""
        # LIKE wildcards in the user's text are matched literally, not as patterns.
        literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.client.query(
            """
            SELECT * FROM instruments
            WHERE symbol ILIKE '%' || :literal || '%' OR name ILIKE '%' || :literal || '%'
            ORDER BY (upper(symbol) = upper(:text)) DESC, symbol
            LIMIT :limit
            """,
            {"literal": literal, "text": text, "limit": limit},
        )

    def create_instrument(self, instrument: InstrumentCreate | dict[str, Any] | None = None, **fields: Any) -> str:
        """Validated upsert on symbol."""
        instrument = validated(InstrumentCreate, instrument, **fields)
        self.client.execute(INSTRUMENT_UPSERT_SQL, instrument_parameters(instrument.model_dump()))
        return instrument.symbol


class Accounts(_Repository):
    def find_by_user(self, clerk_user_id: str) -> list[Row]:
        return self.client.query(
            "SELECT * FROM accounts WHERE clerk_user_id = :id ORDER BY created_at, account_name", {"id": clerk_user_id}
        )

    def find_by_id(self, account_id: uuid.UUID | str) -> Row | None:
        return self.client.query_one("SELECT * FROM accounts WHERE id = :id", {"id": uuid.UUID(str(account_id))})

    def create_account(self, account: AccountCreate | dict[str, Any] | None = None, **fields: Any) -> uuid.UUID:
        account = validated(AccountCreate, account, **fields)
        row = self.client.query_one(
            """
            INSERT INTO accounts (clerk_user_id, account_name, account_purpose, cash_balance, cash_interest)
            VALUES (:clerk_user_id, :account_name, :account_purpose, :cash_balance, :cash_interest)
            RETURNING id
            """,
            account.model_dump(),
        )
        assert row is not None
        return row["id"]


class Positions(_Repository):
    def find_by_account(self, account_id: uuid.UUID | str) -> list[Row]:
        """Positions with their instrument's name, type and current price."""
        return self.client.query(
            """
            SELECT p.*, i.name AS instrument_name, i.instrument_type, i.current_price
            FROM positions p JOIN instruments i ON i.symbol = p.symbol
            WHERE p.account_id = :account_id
            ORDER BY p.symbol
            """,
            {"account_id": uuid.UUID(str(account_id))},
        )

    def add_position(self, position: PositionCreate | dict[str, Any] | None = None, **fields: Any) -> uuid.UUID:
        """Upsert on (account_id, symbol): the quantity and date are replaced, not added."""
        position = validated(PositionCreate, position, **fields)
        row = self.client.query_one(
            """
            INSERT INTO positions (account_id, symbol, quantity, as_of_date)
            VALUES (:account_id, :symbol, :quantity, :as_of_date)
            ON CONFLICT (account_id, symbol) DO UPDATE SET
                quantity = EXCLUDED.quantity, as_of_date = EXCLUDED.as_of_date
            RETURNING id
            """,
            position.model_dump(),
        )
        assert row is not None
        return row["id"]

    def get_portfolio_value(self, account_id: uuid.UUID | str) -> dict[str, Decimal | int]:
        """Exact Decimal totals: positions at current prices, cash, and their sum."""
        row = self.client.query_one(
            """
            SELECT a.cash_balance,
                   COALESCE(SUM(p.quantity * i.current_price), 0)::numeric(20, 2) AS positions_value,
                   COUNT(p.id) AS position_count
            FROM accounts a
            LEFT JOIN positions p ON p.account_id = a.id
            LEFT JOIN instruments i ON i.symbol = p.symbol
            WHERE a.id = :account_id
            GROUP BY a.id, a.cash_balance
            """,
            {"account_id": uuid.UUID(str(account_id))},
        )
        if row is None:
            raise LookupError(f"account {account_id} does not exist")
        cash = row["cash_balance"] or Decimal("0")
        return {
            "positions_value": row["positions_value"],
            "cash_balance": cash,
            "total_value": row["positions_value"] + cash,
            "position_count": row["position_count"],
        }


_PAYLOAD_COLUMNS = ("report_payload", "charts_payload", "retirement_payload", "summary_payload")


class Jobs(_Repository):
    def create_job(self, job: JobCreate | dict[str, Any] | None = None, **fields: Any) -> uuid.UUID:
        job = validated(JobCreate, job, **fields)
        row = self.client.query_one(
            """
            INSERT INTO jobs (clerk_user_id, job_type, request_payload)
            VALUES (:clerk_user_id, :job_type, :request_payload)
            RETURNING id
            """,
            job.model_dump(),
        )
        assert row is not None
        return row["id"]

    def find_by_id(self, job_id: uuid.UUID | str) -> Row | None:
        return self.client.query_one("SELECT * FROM jobs WHERE id = :id", {"id": uuid.UUID(str(job_id))})

    def update_status(self, job_id: uuid.UUID | str, status: JobStatus, error_message: str | None = None) -> int:
        """Set the status; 'running' stamps started_at, 'completed'/'failed' stamp completed_at."""
        update = JobUpdate(status=status, error_message=error_message)
        return self.client.execute(
            """
            UPDATE jobs SET
                status = :status,
                error_message = :error_message,
                started_at = CASE WHEN :status = 'running' THEN COALESCE(started_at, NOW()) ELSE started_at END,
                completed_at = CASE WHEN :status IN ('completed', 'failed') THEN NOW() ELSE completed_at END
            WHERE id = :id
            """,
            {"id": uuid.UUID(str(job_id)), **update.model_dump()},
        ).rowcount

    def _update_payload(self, job_id: uuid.UUID | str, column: str, payload: dict[str, Any]) -> int:
        assert column in _PAYLOAD_COLUMNS  # the column name is code, never input
        if not isinstance(payload, dict):
            raise TypeError(f"{column} must be a JSON object (dict), got {type(payload).__name__}")
        return self.client.execute(
            f"UPDATE jobs SET {column} = :payload WHERE id = :id", {"id": uuid.UUID(str(job_id)), "payload": payload}
        ).rowcount

    def update_report(self, job_id: uuid.UUID | str, payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "report_payload", payload)

    def update_charts(self, job_id: uuid.UUID | str, payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "charts_payload", payload)

    def update_retirement(self, job_id: uuid.UUID | str, payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "retirement_payload", payload)

    def update_summary(self, job_id: uuid.UUID | str, payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "summary_payload", payload)

    def find_by_user(self, clerk_user_id: str, status: JobStatus | None = None, limit: int = 20) -> list[Row]:
        return self.client.query(
            """
            SELECT * FROM jobs
            WHERE clerk_user_id = :id AND (CAST(:status AS VARCHAR) IS NULL OR status = :status)
            ORDER BY created_at DESC
            LIMIT :limit
            """,
            {"id": clerk_user_id, "status": status, "limit": limit},
        )
