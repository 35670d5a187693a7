"""Typed profile settings (dev, prod) read from cdk.json context; bad values fail synth by key."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROFILES_CONTEXT_KEY = "alex:profiles"
PROFILE_CONTEXT_KEY = "profile"
VPC_ID_CONTEXT_KEY = "vpc_id"
# `-c decommission=true` (make deploy/destroy DECOMMISSION=1): the first of the two steps that really
# destroy a protected profile - protection off, instances deletable; the final snapshot stays.
DECOMMISSION_CONTEXT_KEY = "decommission"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


class ConfigError(ValueError):
    """A profile or context value that cannot produce a valid stack."""


class DatabaseProfile(BaseModel):
    """Settings of one deployment profile; every field maps to one cluster/stack property."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    # Serverless v2 capacity in ACUs (0.5 steps); 0 enables auto-pause (scale to zero).
    min_capacity: float = Field(ge=0, le=256, multiple_of=0.5)
    max_capacity: float = Field(ge=1, le=256, multiple_of=0.5)
    auto_pause_seconds: int | None = Field(default=None, ge=300, le=86_400)
    reader_count: int = Field(default=0, ge=0, le=15)
    backup_retention_days: int = Field(ge=1, le=35)
    deletion_protection: bool
    removal_policy: Literal["destroy", "snapshot", "retain"]
    log_retention_days: int
    database_name: str = Field(default="alex", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    master_username: str = Field(default="alex_admin", pattern=r"^[a-z][a-z0-9_]{0,15}$")
    vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    # Performance Insights (Database Insights standard, free 7-day retention), enhanced monitoring
    # and CloudWatch alarms routed to an SNS topic; `alarm_email` subscribes one address to it.
    # The agents' DML-only role (alex_db.deploy.app_role) and how often its secret rotates.
    app_role: str = Field(default="alex_app", pattern=r"^[a-z][a-z0-9_]{0,40}$")
    rotation_days: int = Field(default=30, ge=1, le=365)
    observability: bool = False
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    decommission: bool = False
    # A customer-managed KMS key for the secrets and log groups (stacks/data_protection.py), and
    # AWS Backup (stacks/backup.py) with an optional copy to a vault in another region or account.
    # lock_timeout of every migration statement: a migration queued behind a long agent transaction
    # gives up (and is retried) instead of blocking every agent queued behind it.
    migration_lock_timeout_seconds: float = Field(default=5, gt=0, le=60)
    customer_managed_key: bool = False
    aws_backup: bool = False
    backup_copy_vault_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:.+$"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseProfile:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days={self.log_retention_days} is not a CloudWatch Logs "
                f"retention period; use one of {LOG_RETENTION_DAYS}"
            )
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity={self.min_capacity} is greater than max_capacity={self.max_capacity}")
        if self.min_capacity == 0 and self.auto_pause_seconds is None:
            raise ValueError("min_capacity=0 (scale to zero) needs auto_pause_seconds (300-86400)")
        if self.min_capacity > 0 and self.auto_pause_seconds is not None:
            raise ValueError("auto_pause_seconds applies only when min_capacity=0")
        if self.removal_policy == "destroy" and self.deletion_protection:
            raise ValueError("removal_policy='destroy' contradicts deletion_protection=true")
        if self.backup_copy_vault_arn and not self.aws_backup:
            raise ValueError("backup_copy_vault_arn needs aws_backup=true (the plan that copies)")
        if self.alarm_email and not self.observability:
            raise ValueError("alarm_email needs observability=true (the alarms it would receive)")
        return self

    @property
    def protected(self) -> bool:
        """Deletion protection, termination protection and retained writer: on unless decommissioning."""
        return self.deletion_protection and not self.decommission

    @property
    def auto_pause(self) -> bool:
        return self.min_capacity == 0


def load_profile(context: dict[str, Any]) -> DatabaseProfile:
    """Build the profile selected by `-c profile=NAME` (default dev), with `-c vpc_id=` applied."""
    profiles = context.get(PROFILES_CONTEXT_KEY)
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(
            f"cdk.json context '{PROFILES_CONTEXT_KEY}' is missing or empty "
            "(run through `make synth` / `npx cdk synth`, which read cdk.json)"
        )
    name = context.get(PROFILE_CONTEXT_KEY) or "dev"
    if name not in profiles:
        raise ConfigError(
            f"unknown profile {name!r} (context key '{PROFILE_CONTEXT_KEY}'); "
            f"known profiles: {', '.join(sorted(profiles))}"
        )
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,20}", name):
        raise ConfigError(f"profile name {name!r} must be lowercase letters, digits and '-'")
    values = dict(profiles[name])
    if context.get(VPC_ID_CONTEXT_KEY):
        values["vpc_id"] = context[VPC_ID_CONTEXT_KEY]
    if str(context.get(DECOMMISSION_CONTEXT_KEY, "")).lower() in ("true", "1", "yes"):
        values["decommission"] = True
    try:
        return DatabaseProfile(name=name, **values)
    except ValidationError as exc:
        problems = "; ".join(
            f"'{PROFILES_CONTEXT_KEY}.{name}.{'.'.join(map(str, e['loc'])) or '(profile)'}': {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid profile {name!r}: {problems}") from None
