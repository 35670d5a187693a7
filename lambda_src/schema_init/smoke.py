"""A deployed smoke check: one round trip through alex_db's Data API client as the agents' DML-only role.

Invoked by the integration test (`make integ DEPLOY=1`) and usable by an operator after a deploy:
writes a user with a Decimal and a JSON value, reads them back typed, deletes it, and confirms the
role cannot change the schema. Environment: CLUSTER_ARN, SECRET_ARN (the app secret), DATABASE.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

from alex_db.client import AFTER_CREATE_CODES, DataApiClient, RetryPolicy
from alex_db.connection import boto3_rds_data_client
from alex_db.errors import DataApiError


def handler(event: dict[str, Any] | None = None, context: Any = None, *, client: DataApiClient | None = None) -> dict:
    client = client or DataApiClient(
        boto3_rds_data_client(),
        resource_arn=os.environ["CLUSTER_ARN"],
        secret_arn=os.environ["SECRET_ARN"],
        database=os.environ["DATABASE"],
        retry=RetryPolicy(budget_seconds=120, also_retry=AFTER_CREATE_CODES),
    )
    user = f"smoke-{uuid.uuid4().hex[:12]}"
    targets = {"equity": 60, "fixed_income": 40}
    client.execute(
        "INSERT INTO users (clerk_user_id, display_name, target_retirement_income, asset_class_targets) "
        "VALUES (:id, 'Smoke', :income, :targets)",
        {"id": user, "income": Decimal("85000.50"), "targets": targets},
    )
    try:
        row = client.query_one(
            "SELECT target_retirement_income AS income, asset_class_targets AS targets, current_user AS login "
            "FROM users WHERE clerk_user_id = :id",
            {"id": user},
        )
        instruments = client.query_one("SELECT count(*) AS n FROM instruments")["n"]
    finally:
        client.execute("DELETE FROM users WHERE clerk_user_id = :id", {"id": user})
    try:
        client.execute("DROP TABLE users")
        ddl_refused = False
    except DataApiError:
        ddl_refused = True
    ok = row is not None and row["income"] == Decimal("85000.50") and row["targets"] == targets and ddl_refused
    return {"ok": ok, "login": row["login"] if row else None, "instruments": instruments, "ddl_refused": ddl_refused}
