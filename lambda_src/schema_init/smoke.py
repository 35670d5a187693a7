"""A deployed smoke check: one round trip through alex_db's Data API client as the agents' DML-only role.

Invoked by the integration test (`make integ DEPLOY=1`) and usable by an operator after a deploy:
writes a user with a Decimal and a JSON value, reads them back typed, deletes it, and confirms the
role cannot change the schema. Environment: CLUSTER_ARN, SECRET_ARN (the app secret), DATABASE, APP_ROLE.
The result names no login user: the first rotation runs right after the deploy (a RotationSchedule
without RotateImmediatelyOnUpdate rotates at once), so alex_app_1 or alex_app_2 may be current;
what rotation cannot change is that the login is a member of the app group.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

from alex_db.client import AFTER_CREATE_CODES, DataApiClient, RetryPolicy
from alex_db.connection import boto3_rds_data_client
from alex_db.errors import DataApiError


def handler(
    event: dict[str, Any] | None = None,
    context: Any = None,
    *,
    client: DataApiClient | None = None,
    environ: dict[str, str] | None = None,
) -> dict:
    env = os.environ if environ is None else environ
    client = client or DataApiClient(
        boto3_rds_data_client(),
        resource_arn=env["CLUSTER_ARN"],
        secret_arn=env["SECRET_ARN"],
        database=env["DATABASE"],
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
            "SELECT target_retirement_income AS income, asset_class_targets AS targets, current_user AS login, "
            "pg_has_role(current_user, :group, 'MEMBER') AS member FROM users WHERE clerk_user_id = :id",
            {"id": user, "group": env["APP_ROLE"]},
        )
        instruments = client.query_one("SELECT count(*) AS n FROM instruments")["n"]
    finally:
        client.execute("DELETE FROM users WHERE clerk_user_id = :id", {"id": user})
    try:
        client.execute("DROP TABLE users")
        ddl_refused = False
    except DataApiError:
        ddl_refused = True
    member = bool(row and row["member"])
    ok = row is not None and row["income"] == Decimal("85000.50") and row["targets"] == targets and ddl_refused
    print(f"smoke: logged in as {row['login'] if row else None}")  # for the log; rotation may change it
    return {"ok": ok and member, "app_group_member": member, "instruments": instruments, "ddl_refused": ddl_refused}
