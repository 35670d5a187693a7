"""Pydantic models for what the agents write: Literal vocabularies, ranges, allocations summing to 100.

The names and vocabularies are a superset of the Alex course's `src.schemas` (its API and agents
import them as request bodies and LLM output models): where the two differed, the course's wins.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

RegionType = Literal[
    "north_america", "europe", "asia", "latin_america", "africa",
    "middle_east", "oceania", "global", "international",
]  # fmt: skip
AssetClassType = Literal["equity", "fixed_income", "real_estate", "commodities", "cash", "alternatives"]
SectorType = Literal[
    "technology", "healthcare", "financials", "consumer_discretionary", "consumer_staples",
    "industrials", "materials", "energy", "utilities", "real_estate", "communication",
    "treasury", "corporate", "mortgage", "government_related", "commodities", "diversified", "other",
]  # fmt: skip
InstrumentType = Literal["etf", "mutual_fund", "stock", "bond", "bond_fund", "commodity", "reit"]
# The job types the course's agents create; the vocabulary is open (0002 dropped the CHECK so that a
# new agent job type, e.g. the course's "test_market", needs neither a migration nor a code change).
KnownJobType = Literal[
    "portfolio_analysis", "rebalance_recommendation", "retirement_projection", "risk_assessment",
    "tax_optimization", "instrument_research",
]  # fmt: skip
KNOWN_JOB_TYPES: tuple[str, ...] = KnownJobType.__args__
JobType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=50)]  # jobs.job_type varchar(50)
JobStatus = Literal["pending", "running", "completed", "failed"]
# The course's eight, plus "savings" (a cash account the guide's test data never needed but users have).
AccountType = Literal["401k", "roth_ira", "traditional_ira", "taxable", "529", "hsa", "pension", "savings", "other"]

ALLOCATION_TOLERANCE = 0.05  # percentage points: rounding in published fund data
Percent = Annotated[float, Field(ge=0, le=100)]


def to_cents(value: Any) -> Any:
    """Round to cents as PostgreSQL's numeric(12,2) does (half away from zero): 100.555 -> 100.56."""
    if isinstance(value, (int, float, str, Decimal)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            return value  # not a number: the field's own validation says so
        return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if number.is_finite() else number
    return value


Money = Annotated[Decimal, BeforeValidator(to_cents), Field(ge=0, max_digits=12, decimal_places=2)]


def check_allocation(name: str, allocation: dict[str, float]) -> dict[str, float]:
    if not allocation:
        raise ValueError(f"{name} must not be empty")
    total = sum(allocation.values())
    if abs(total - 100) > ALLOCATION_TOLERANCE:
        raise ValueError(f"{name} must sum to 100 (±{ALLOCATION_TOLERANCE}), got {total:g}")
    return allocation


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class InstrumentCreate(_Model):
    symbol: str = Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9.\-^]+$")
    # current_price 0 is allowed: a user-added instrument waits for the tagger/market price.
    name: str = Field(min_length=1, max_length=255)
    instrument_type: InstrumentType
    current_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    allocation_regions: dict[RegionType, Percent]
    allocation_sectors: dict[SectorType, Percent]
    allocation_asset_class: dict[AssetClassType, Percent]

    @field_validator("symbol", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value  # tickers are case-insensitive

    @field_validator("allocation_regions", "allocation_sectors", "allocation_asset_class")
    @classmethod
    def _sums_to_100(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        return check_allocation(info.field_name, value)


class UserCreate(_Model):
    clerk_user_id: str = Field(min_length=1, max_length=255)
    display_name: str | None = Field(default=None, max_length=255)
    years_until_retirement: int | None = Field(default=None, ge=0, le=100)
    target_retirement_income: Money | None = None
    asset_class_targets: dict[AssetClassType, Percent] = Field(
        default_factory=lambda: {"equity": 70.0, "fixed_income": 30.0}
    )
    region_targets: dict[RegionType, Percent] = Field(
        default_factory=lambda: {"north_america": 50.0, "international": 50.0}
    )

    @field_validator("asset_class_targets", "region_targets")
    @classmethod
    def _sums_to_100(cls, value: dict[str, float], info: Any) -> dict[str, float]:
        return check_allocation(info.field_name, value)


class AccountCreate(_Model):
    # Optional: the course's API takes the user from authentication and validates the request body
    # without it; the repository's create_account(clerk_user_id, ...) supplies it.
    clerk_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    account_name: str = Field(min_length=1, max_length=255)
    account_purpose: str | None = None
    cash_balance: Money = Decimal("0")
    cash_interest: Decimal = Field(default=Decimal("0"), ge=0, le=1, max_digits=5, decimal_places=4)


class PositionCreate(_Model):
    account_id: uuid.UUID
    symbol: str = Field(min_length=1, max_length=20)
    quantity: Decimal = Field(ge=0, max_digits=20, decimal_places=8)  # 0: a position sold out, kept
    as_of_date: dt.date = Field(default_factory=dt.date.today)


class JobCreate(_Model):
    clerk_user_id: str = Field(min_length=1, max_length=255)
    job_type: JobType
    request_payload: dict[str, Any] | None = None


class JobUpdate(_Model):
    status: JobStatus
    # Any status may carry a message (e.g. a warning on a completed job), as in the course.
    error_message: str | None = None
    # In the course's model for LLM output; the jobs table has no column for it, so it is not stored.
    result_payload: dict[str, Any] | None = None
