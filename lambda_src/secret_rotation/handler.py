"""Secrets Manager rotation of the app secret (alternating users) through the Data API; no VPC, no endpoint.

The four steps, as Secrets Manager calls them:
  createSecret  AWSPENDING = the *other* login user of the group with a new random password
  setSecret     that user's password := the pending one, via the Data API with the admin (master) secret
  testSecret    the pending credentials really log in: the Data API reads only a secret's AWSCURRENT
                version, so they are copied into a scratch secret (TEST_SECRET_ARN) as its AWSCURRENT and
                one statement runs with it, as the official multi-user template logs in with AWSPENDING;
                then the scratch secret is blanked. Via the admin secret: the user is a member of the
                group and carries this version's marker (set in the same transaction as the password).
  finishSecret  AWSCURRENT moves to the pending version; callers switch users with no failed login,
                because the previous user's password stays valid until the rotation after next.
Every step is idempotent: an interrupted rotation resumes from any step.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from typing import Any

from botocore.exceptions import ClientError

from alex_db.client import AFTER_CREATE_CODES, DataApiClient, RetryPolicy
from alex_db.connection import boto3_rds_data_client
from alex_db.deploy.app_role import ensure_roles_sql, other_user, parse_secret, role_marker, set_password
from alex_db.errors import DataApiError

log = logging.getLogger("alex_db")
log.setLevel(logging.INFO)

PASSWORD_BYTES = 30  # token_urlsafe: 40 ASCII characters, no quotes or backslashes


class RotationError(Exception):
    """A rotation step found the secret or the database in a state it must not continue from."""


def on_event(event: dict[str, Any], context: Any = None, *, secrets_client: Any = None,
             admin: DataApiClient | None = None, environ: dict[str, str] | None = None) -> None:  # fmt: skip
    env = os.environ if environ is None else environ
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    sm = secrets_client or _boto3_secretsmanager()
    versions = sm.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    if token not in versions:
        raise RotationError(f"version {token} of {arn} is not a version of this secret")
    if "AWSCURRENT" in versions[token]:
        log.info("%s: version %s is already AWSCURRENT; nothing to do", step, token)
        return
    if "AWSPENDING" not in versions[token]:
        raise RotationError(f"version {token} of {arn} is not AWSPENDING")
    group = env["APP_ROLE"]
    log.info("%s for %s (version %s)", step, arn, token)
    if step == "createSecret":
        create_secret(sm, arn, token, group)
    elif step == "setSecret":
        pending = parse_secret(
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
        )
        client = admin or _admin_client(env)
        with client.transaction() as tx:
            tx.execute(ensure_roles_sql(group))  # idempotent; a rotation never depends on the init having run
            set_password(tx, pending["username"], pending["password"], marker=token)
    elif step == "testSecret":
        pending = parse_secret(
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
        )
        admin = admin or _admin_client(env)
        test_secret(admin, group, pending["username"], token)
        test_login(sm, admin, env["TEST_SECRET_ARN"], pending, group)
    elif step == "finishSecret":
        finish_secret(sm, arn, token, versions)
    else:
        raise RotationError(f"unknown rotation step {step!r}")


def create_secret(sm: Any, arn: str, token: str, group: str) -> None:
    current = parse_secret(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        log.info("createSecret: version %s already exists", token)
        return
    except ClientError as exc:  # ResourceNotFoundException: no pending version yet, create it
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    pending = {**current, "username": other_user(group, current["username"]),
               "password": secrets.token_urlsafe(PASSWORD_BYTES)}  # fmt: skip
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending),
                        VersionStages=["AWSPENDING"])  # fmt: skip


def test_secret(admin: DataApiClient, group: str, username: str, token: str) -> None:
    row = admin.query_one(
        """
        SELECT r.rolcanlogin AS can_login, pg_has_role(r.rolname, :group, 'MEMBER') AS member
        FROM pg_roles r WHERE r.rolname = :user
        """,
        {"user": username, "group": group},
    )
    if row is None or not row["can_login"] or not row["member"]:
        raise RotationError(f"testSecret: {username} cannot log in or is not a member of {group}: {row}")
    marker = role_marker(admin, username)
    if marker != token:
        raise RotationError(f"testSecret: {username}'s password was set by {marker!r}, not by version {token}")


def test_login(sm: Any, admin: DataApiClient, test_secret_arn: str, pending: dict[str, str], group: str) -> None:
    """Log in with the pending credentials through the Data API (via the scratch secret), then blank it."""
    # A fresh ClientRequestToken per attempt: PutSecretValue with a token that exists and identical
    # data "does nothing" (no label moves), so a retried testSecret would test the blank instead.
    sm.put_secret_value(SecretId=test_secret_arn, ClientRequestToken=str(uuid.uuid4()),
                        SecretString=json.dumps(pending), VersionStages=["AWSCURRENT"])  # fmt: skip
    try:
        row = admin.with_secret(test_secret_arn).query_one(
            "SELECT current_user AS login, pg_has_role(current_user, :group, 'MEMBER') AS member", {"group": group}
        )
    except DataApiError as exc:
        raise RotationError(
            f"testSecret: the pending credentials of {pending['username']} do not log in: {exc}"
        ) from None
    finally:
        blank = {"username": pending["username"], "password": "", "note": "scratch secret of testSecret"}
        sm.put_secret_value(SecretId=test_secret_arn, ClientRequestToken=str(uuid.uuid4()),
                            SecretString=json.dumps(blank), VersionStages=["AWSCURRENT"])  # fmt: skip
    if row is None or row["login"] != pending["username"] or not row["member"]:
        raise RotationError(f"testSecret: logged in as {row} with the pending credentials of {pending['username']}")
    log.info("testSecret: %s logs in with the pending password through the Data API", pending["username"])


def finish_secret(sm: Any, arn: str, token: str, versions: dict[str, list[str]]) -> None:
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=current)  # fmt: skip
    log.info("finishSecret: version %s is AWSCURRENT", token)


def _admin_client(env: Any) -> DataApiClient:
    return DataApiClient(
        boto3_rds_data_client(),
        resource_arn=env["CLUSTER_ARN"],
        secret_arn=env["ADMIN_SECRET_ARN"],
        database=env["DATABASE"],
        retry=RetryPolicy(budget_seconds=120, also_retry=AFTER_CREATE_CODES),
    )


def _boto3_secretsmanager() -> Any:
    import boto3

    return boto3.client("secretsmanager")
