"""CloudFormation custom-resource event (via the Provider framework) -> alex_db.deploy.runner; nothing else."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from alex_db.client import AFTER_CREATE_CODES, DataApiClient, RetryPolicy
from alex_db.connection import boto3_rds_data_client
from alex_db.deploy.app_role import parse_secret
from alex_db.deploy.apply import LockPolicy
from alex_db.deploy.manifest import MANIFEST_FILE, load_manifest
from alex_db.deploy.runner import AppRole, initialize_for_request

log = logging.getLogger("alex_db")
log.setLevel(logging.INFO)

MANIFEST_PATH = Path(__file__).resolve().parent.parent / MANIFEST_FILE
# A cluster paused for hours can take well over 30 s to resume; the Lambda has 5 minutes.
RETRY_BUDGET_SECONDS = float(os.environ.get("ALEX_DB_RETRY_BUDGET_SECONDS", "120"))
MAX_DATA_VALUE = 1000  # keep the response far below CloudFormation's 4,096-byte limit


def app_role(props: dict[str, Any], secrets_client: Any = None) -> AppRole | None:
    """The agents' role and the app secret's AWSCURRENT credentials (read here, never logged or returned)."""
    if not props.get("AppSecretArn"):
        return None
    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager")
    value = secrets_client.get_secret_value(SecretId=props["AppSecretArn"], VersionStage="AWSCURRENT")
    return AppRole(props["AppRole"], parse_secret(value["SecretString"]))


def lock_policy(props: dict[str, Any]) -> LockPolicy:
    """The profile's lock_timeout for migration statements (property LockTimeoutSeconds; default 5 s)."""
    seconds = props.get("LockTimeoutSeconds")
    return LockPolicy(lock_timeout_seconds=float(seconds)) if seconds not in (None, "") else LockPolicy()


def retry_policy() -> RetryPolicy:
    """Waits out a resuming cluster and, right after the cluster's creation, its endpoint/secret/database."""
    return RetryPolicy(budget_seconds=RETRY_BUDGET_SECONDS, also_retry=AFTER_CREATE_CODES)


def on_event(event: dict[str, Any], context: Any = None, *, client: DataApiClient | None = None,
             manifest: dict[str, Any] | None = None, secrets_client: Any = None) -> dict[str, Any]:  # fmt: skip
    request_type = event["RequestType"]
    props = event["ResourceProperties"]
    # One physical id for the resource's whole life: a new id would make CloudFormation delete the old.
    physical_id = event.get("PhysicalResourceId") or f"{props['ClusterArn']}/{props['Database']}/schema"
    log.info("%s %s (manifest %s)", request_type, physical_id, str(props.get("ManifestHash"))[:12])

    if request_type == "Delete":
        log.info("Delete: keeping all data; the cluster's removal policy decides what happens to it")
        return {"PhysicalResourceId": physical_id}

    client = client or DataApiClient(
        boto3_rds_data_client(),
        resource_arn=props["ClusterArn"],
        secret_arn=props["SecretArn"],
        database=props["Database"],
        retry=retry_policy(),
    )
    summary = initialize_for_request(
        client,
        manifest or load_manifest(MANIFEST_PATH),
        requested_hash=props.get("ManifestHash"),
        requested_migrations=props.get("Migrations") or (),
        app_role=app_role(props, secrets_client),
        progress=log.info,
        locks=lock_policy(props),
    )
    applied = ",".join(summary.migrations_applied) or "none"
    return {
        "PhysicalResourceId": physical_id,
        "Data": {
            "SchemaVersion": str(summary.schema_version),
            "MigrationsApplied": applied if len(applied) <= MAX_DATA_VALUE else applied[: MAX_DATA_VALUE - 1] + "…",
            "InstrumentCount": str(summary.instruments if summary.instruments is not None else ""),
        },
    }
