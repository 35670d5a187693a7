"""Pydantic models for what the agents write: Literal vocabularies, ranges, allocations summing to 100."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
InstrumentType = Literal["equity", "etf", "mutual_fund", "bond_fund", "commodity", "reit"]
JobType = Literal[
    "portfolio_analysis", "rebalance_recommendation", "retirement_projection", "risk_assessment", "tax_optimization"
]
JobStatus = Literal["pending", "running", "completed", "failed"]
AccountType = Literal["401k", "roth_ira", "traditional_ira", "taxable", "savings", "hsa", "other"]

ALLOCATION_TOLERANCE = 0.05  # percentage points: rounding in published fund data
Percent = Annotated[float, Field(ge=0, le=100)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


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
    name: str = Field(min_length=1, max_length=255)
    instrument_type: InstrumentType
    current_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    allocation_regions: dict[RegionType, Percent]
    allocation_sectors: dict[SectorType, Percent]
    allocation_asset_class: dict[AssetClassType, Percent]

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
    clerk_user_id: str = Field(min_length=1, max_length=255)
    account_name: str = Field(min_length=1, max_length=255)
    account_purpose: str | None = None
    cash_balance: Money = Decimal("0")
    cash_interest: Decimal = Field(default=Decimal("0"), ge=0, le=1, max_digits=5, decimal_places=4)


class PositionCreate(_Model):
    account_id: uuid.UUID
    symbol: str = Field(min_length=1, max_length=20)
    quantity: Decimal = Field(gt=0, max_digits=20, decimal_places=8)
    as_of_date: dt.date = Field(default_factory=dt.date.today)


class JobCreate(_Model):
    clerk_user_id: str = Field(min_length=1, max_length=255)
    job_type: JobType
    request_payload: dict[str, Any] | None = None


class JobUpdate(_Model):
    status: JobStatus
    error_message: str | None = None

    @model_validator(mode="after")
    def _error_only_when_failed(self) -> JobUpdate:
        if self.error_message and self.status != "failed":
            raise ValueError("error_message is only for status 'failed'")
        return self
