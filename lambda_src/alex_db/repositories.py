"""Repositories the agents use: users, instruments, accounts, positions, jobs (validated by the schemas).

Call shapes are the Alex course's (positional order, defaults, `find_by_id`/`find_all`/`create`/
`update`/`delete` per table) plus our model forms (`create_account(AccountCreate(...))`). Keys are each
table's real primary key; ids come back as `str`, row values stay typed (Decimal, UUID, datetime).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Optional

from pydantic import BaseModel, TypeAdapter, ValidationError, create_model

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
from alex_db.wide_rows import select_rows

Row = dict[str, Any]


def as_fields(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The fields a caller set: a model's (only those explicitly set) or a mapping's."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value)


def model_form(first: Any) -> bool:
    """True when a create_* call passes a model or dict first (our form) instead of the course's values."""
    return isinstance(first, (BaseModel, Mapping))


KEEP = object()  # a cleared field keeps the stored value


@functools.cache
def partial_schema(schema: type[BaseModel]) -> type[BaseModel]:
    """`schema` with every field optional and no default: validates just the fields an update gives,
    with the schema's own field validators (inherited), and dumps only those (exclude_unset)."""
    fields = {name: (Optional[field_type(field)], None) for name, field in schema.model_fields.items()}  # noqa: UP045
    return create_model(f"{schema.__name__}Change", __base__=schema, **fields)  # type: ignore[call-overload]


def field_type(field: Any) -> Any:
    """A model field's type with its constraints and validators (pydantic keeps them in `metadata`)."""
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


def accepts_empty(field: Any, value: Any) -> bool:
    """Whether the schema lets this field hold None (or "" for a str without a minimum length)."""
    try:
        TypeAdapter(field_type(field)).validate_python(value)
    except ValidationError:
        return False
    return True


class Table:
    """Generic per-table access keyed by the table's real primary key, validated by its schema."""

    table: ClassVar[str]
    key: ClassVar[str] = "id"
    schema: ClassVar[type[BaseModel] | None] = None

    def __init__(self, client: Any) -> None:
        self.client = client
        self.db = client  # the course's repositories call their client `db` (`db.users.db.insert(...)`)

    def _key(self, value: Any) -> Any:
        return uuid.UUID(str(value)) if self.key == "id" else value

    def select(
        self,
        where: str = "true",
        params: Mapping[str, Any] | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Row]:
        """Whole rows (`SELECT *`), however large their text/JSONB values: see alex_db.wide_rows."""
        return select_rows(self.client, self.table, where=where, params=params, order_by=order_by or self.key,
                           key=self.key, limit=limit, offset=offset)  # fmt: skip

    def find_by_id(self, key: Any) -> Row | None:
        rows = self.select(f"{self.key} = :key", {"key": self._key(key)}, limit=1)
        return rows[0] if rows else None

    def find_all(self, limit: int | None = 100, offset: int = 0) -> list[Row]:
        return self.select(limit=limit, offset=offset)

    def validate(self, data: Mapping[str, Any], *, current: Row | None = None) -> dict[str, Any]:
        """`data` checked by the table's schema (merged over `current` for updates); unknown columns fail later."""
        if self.schema is None:
            return dict(data)
        known = self.schema.model_fields
        base = {k: v for k, v in (current or {}).items() if k in known and v is not None}
        model = self.schema.model_validate({**base, **{k: v for k, v in data.items() if k in known}})
        dumped = model.model_dump()
        return {k: (dumped[k] if k in known else v) for k, v in data.items()}

    def create(self, data: BaseModel | Mapping[str, Any], returning: str | None = None) -> Any:
        """INSERT a row (validated); returns the `returning` column, the primary key by default."""
        return self.client.insert(self.table, self.validate(as_fields(data)), returning=returning or self.key)

    def update(self, key: Any, data: BaseModel | Mapping[str, Any]) -> int:
        """UPDATE the row with this primary key: the fields given, validated and normalised as their columns
        would store them (the stored row is not read, nor re-validated). Rows changed (0: no such row)."""
        change = self.validate_change(as_fields(data))
        if not change:
            return 0 if self.find_by_id(key) is None else 1  # nothing to write: say whether the row exists
        return self.client.update(self.table, change, f"{self.key} = :key", {"key": self._key(key)})

    # What a cleared form field (None or "") means for a column the schema does not let be empty:
    # KEEP leaves the stored value, anything else is stored instead. docs/agents.md, "deliberate differences".
    cleared: ClassVar[Mapping[str, Any]] = {}

    def validate_change(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of an update, each checked by the table's schema (with the validators that involve it,
        e.g. an allocation summing to 100) and normalised; unknown columns fail later, in the client."""
        if self.schema is None:
            return dict(data)
        known, partial = self.schema.model_fields, partial_schema(self.schema)
        given = {}
        for name, value in data.items():
            if name in known and (value is None or value == "") and not accepts_empty(known[name], value):
                replacement = self.cleared.get(name, KEEP)
                if replacement is KEEP:
                    continue
                value = replacement
            given[name] = value
        checked = partial.model_validate({k: v for k, v in given.items() if k in known}).model_dump(exclude_unset=True)
        return {k: (checked[k] if k in known else v) for k, v in given.items()}

    def delete(self, key: Any) -> int:
        return self.client.delete(self.table, f"{self.key} = :key", {"key": self._key(key)})


class Users(Table):
    table, key, schema = "users", "clerk_user_id", UserCreate

    def find_by_clerk_id(self, clerk_user_id: str) -> Row | None:
        return self.find_by_id(clerk_user_id)

    def create_user(
        self,
        clerk_user_id: str | UserCreate | Mapping[str, Any],
        display_name: str | None = None,
        years_until_retirement: int | None = None,
        target_retirement_income: Decimal | None = None,
        **fields: Any,
    ) -> str:
        """Insert the user; a repeated sign-up updates only the fields this call gives (never resets targets)."""
        if model_form(clerk_user_id):
            given = {**as_fields(clerk_user_id), **fields}
        else:
            given = {"clerk_user_id": clerk_user_id, "display_name": display_name,
                     "years_until_retirement": years_until_retirement,
                     "target_retirement_income": target_retirement_income, **fields}  # fmt: skip
            given = {k: v for k, v in given.items() if v is not None or k in fields}
        user = UserCreate.model_validate(given)
        values = user.model_dump()
        changed = [c for c in sorted(given) if c != "clerk_user_id"]
        on_conflict = "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in changed) if changed else "DO NOTHING"
        self.client.execute(
            f"""
            INSERT INTO users (clerk_user_id, display_name, years_until_retirement, target_retirement_income,
                               asset_class_targets, region_targets)
            VALUES (:clerk_user_id, :display_name, :years_until_retirement, :target_retirement_income,
                    :asset_class_targets, :region_targets)
            ON CONFLICT (clerk_user_id) {on_conflict}
            """,
            values,
        )
        return user.clerk_user_id


class Instruments(Table):
    table, key, schema = "instruments", "symbol", InstrumentCreate

    def find_all(self, limit: int | None = None, offset: int = 0) -> list[Row]:
        """Every instrument (no limit by default: the course's autocomplete lists them all)."""
        return super().find_all(limit, offset)

    def find_by_symbol(self, symbol: str) -> Row | None:
        return self.find_by_id(symbol)

    def find_by_type(self, instrument_type: InstrumentType) -> list[Row]:
        return self.select("instrument_type = :type", {"type": instrument_type}, order_by="symbol")

    def search(self, query: str, limit: int = 20) -> list[Row]:
        """Symbol or name containing `query` literally (case-insensitive); exact symbol matches first."""
        # LIKE wildcards in the user's text are matched literally, not as patterns.
        literal = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.select(
            "symbol ILIKE '%' || :literal || '%' OR name ILIKE '%' || :literal || '%'",
            {"literal": literal, "text": query},
            order_by="(upper(symbol) = upper(:text)) DESC, symbol",
            limit=limit,
        )

    def create_instrument(self, instrument: InstrumentCreate | Mapping[str, Any] | None = None, **fields: Any) -> str:
        """Validated upsert on symbol; returns the symbol."""
        model = InstrumentCreate.model_validate({**as_fields(instrument or {}), **fields})
        self.client.execute(INSTRUMENT_UPSERT_SQL, instrument_parameters(model.model_dump()))
        return model.symbol


class Accounts(Table):
    table, schema = "accounts", AccountCreate
    # The course's edit form sends a cleared cash field as null: no cash recorded is 0. A cleared
    # name keeps the old one (an account needs a name).
    cleared: ClassVar[Mapping[str, Any]] = {"cash_balance": Decimal("0"), "cash_interest": Decimal("0")}

    def find_by_user(self, clerk_user_id: str) -> list[Row]:
        return self.select(
            "clerk_user_id = :id",
            {"id": clerk_user_id},
            order_by="created_at DESC, id",  # newest first, as the course's find_by_user
        )

    def create_account(
        self,
        clerk_user_id: str | AccountCreate | Mapping[str, Any],
        account_name: str | None = None,
        account_purpose: str | None = None,
        cash_balance: Decimal | float | int = Decimal("0"),
        cash_interest: Decimal | float | int = Decimal("0"),
    ) -> str:
        if model_form(clerk_user_id):
            given = as_fields(clerk_user_id)
        else:
            given = {"clerk_user_id": clerk_user_id, "account_name": account_name, "account_purpose": account_purpose,
                     "cash_balance": cash_balance, "cash_interest": cash_interest}  # fmt: skip
        account = AccountCreate.model_validate(given)
        if account.clerk_user_id is None:
            raise ValueError("create_account needs clerk_user_id (the account's owner)")
        return self.client.insert("accounts", account.model_dump(), returning="id")


class Positions(Table):
    table, schema = "positions", PositionCreate

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

    def add_position(
        self,
        account_id: uuid.UUID | str | PositionCreate | Mapping[str, Any],
        symbol: str | None = None,
        quantity: Decimal | float | int | str | None = None,
    ) -> str:
        """Upsert on (account_id, symbol): the quantity and date are replaced, not added. Returns the id."""
        if model_form(account_id):
            position = PositionCreate.model_validate(as_fields(account_id))
        else:
            position = PositionCreate.model_validate({"account_id": account_id, "symbol": symbol, "quantity": quantity})
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
        return str(row["id"])

    def get_portfolio_value(self, account_id: uuid.UUID | str) -> dict[str, Any]:
        """Exact Decimal figures; `total_value` is the positions at current prices (the course's meaning)."""
        row = self.client.query_one(
            """
            SELECT a.cash_balance,
                   COALESCE(SUM(p.quantity * i.current_price), 0)::numeric(20, 2) AS positions_value,
                   COALESCE(SUM(p.quantity), 0) AS total_shares,
                   COUNT(DISTINCT p.symbol) AS num_positions
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
            "num_positions": row["num_positions"],
            "total_value": row["positions_value"],
            "total_shares": row["total_shares"],
            "positions_value": row["positions_value"],
            "cash_balance": cash,
            "account_value": row["positions_value"] + cash,
            "position_count": row["num_positions"],
        }


PAYLOAD_COLUMNS = ("report_payload", "charts_payload", "retirement_payload", "summary_payload")


class Jobs(Table):
    table, schema = "jobs", JobCreate

    def create_job(
        self,
        clerk_user_id: str | JobCreate | Mapping[str, Any],
        job_type: str | None = None,
        request_payload: dict[str, Any] | None = None,
    ) -> str:
        if model_form(clerk_user_id):
            job = JobCreate.model_validate(as_fields(clerk_user_id))
        else:
            job = JobCreate.model_validate(
                {"clerk_user_id": clerk_user_id, "job_type": job_type, "request_payload": request_payload}
            )
        return self.client.insert("jobs", job.model_dump(), returning="id")

    def update_status(self, job_id: uuid.UUID | str, status: JobStatus, error_message: str | None = None) -> int:
        """Set the status (and message); 'running' stamps started_at, 'completed'/'failed' completed_at."""
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
            {"id": uuid.UUID(str(job_id)), "status": update.status, "error_message": update.error_message},
        ).rowcount

    def _update_payload(self, job_id: uuid.UUID | str, column: str, payload: dict[str, Any]) -> int:
        assert column in PAYLOAD_COLUMNS  # the column name is code, never input
        if not isinstance(payload, dict):
            raise TypeError(f"{column} must be a JSON object (dict), got {type(payload).__name__}")
        return self.client.execute(
            f"UPDATE jobs SET {column} = :payload WHERE id = :id", {"id": uuid.UUID(str(job_id)), "payload": payload}
        ).rowcount

    def update_report(self, job_id: uuid.UUID | str, report_payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "report_payload", report_payload)

    def update_charts(self, job_id: uuid.UUID | str, charts_payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "charts_payload", charts_payload)

    def update_retirement(self, job_id: uuid.UUID | str, retirement_payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "retirement_payload", retirement_payload)

    def update_summary(self, job_id: uuid.UUID | str, summary_payload: dict[str, Any]) -> int:
        return self._update_payload(job_id, "summary_payload", summary_payload)

    def find_by_user(self, clerk_user_id: str, status: JobStatus | None = None, limit: int = 20) -> list[Row]:
        """The user's newest jobs, payloads included (read in pieces when they outgrow a Data API row)."""
        return self.select(
            "clerk_user_id = :id AND (CAST(:status AS VARCHAR) IS NULL OR status = :status)",
            {"id": clerk_user_id, "status": status},
            order_by="created_at DESC, id",
            limit=limit,
        )
