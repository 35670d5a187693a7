"""CloudFormation custom-resource events (via the Provider framework) -> alex_db.deploy.runner; nothing else.

`on_event` applies what it can within its Lambda's time. A no-transaction migration still running at
that point (a concurrent index build on a big table) does not fail the deploy: `on_event` answers
"Pending" and the Provider's waiter calls `is_complete` every QUERY_INTERVAL until it reports done,
up to the Provider's total timeout (below CloudFormation's one hour for a custom resource). The
framework passes onEvent's PhysicalResourceId and Data to isComplete, merges isComplete's Data over
onEvent's, and refuses Data while IsComplete is false (aws-cdk-lib, custom-resources/lib/
provider-framework/runtime/framework.js).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from alex_db.client import AFTER_CREATE_CODES, DataApiClient, RetryPolicy
from alex_db.connection import boto3_rds_data_client
from alex_db.deploy.app_role import parse_secret
from alex_db.deploy.apply import LockPolicy
from alex_db.deploy.manifest import MANIFEST_FILE, load_manifest
from alex_db.deploy.runner import AppRole, InitSummary, initialize_for_request
from alex_db.errors import MigrationStillRunning

log = logging.getLogger("alex_db")
log.setLevel(logging.INFO)

MANIFEST_PATH = Path(__file__).resolve().parent.parent / MANIFEST_FILE
# A cluster paused for hours can take well over 30 s to resume; the Lambda has 5 minutes.
RETRY_BUDGET_SECONDS = float(os.environ.get("ALEX_DB_RETRY_BUDGET_SECONDS", "120"))
MAX_DATA_VALUE = 1000  # keep the response far below CloudFormation's 4,096-byte limit
# Stop waiting for a running statement this long before the Lambda's own timeout: time to answer.
DEADLINE_MARGIN_SECONDS = 20.0
# isComplete gives up (failing the deploy with a message that says the statement still runs) this
# long after on_event started waiting: before the Provider's own total timeout (stacks/functions.py,
# 55 min), whose failure would only say "Operation timed out".
WAIT_LIMIT_SECONDS = 50 * 60


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


def deadline(context: Any) -> float | None:
    """When to stop waiting for a running statement: the Lambda's remaining time, less a margin (monotonic clock)."""
    if context is None or not hasattr(context, "get_remaining_time_in_millis"):
        return None
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS


def physical_id(event: dict[str, Any]) -> str:
    # One physical id for the resource's whole life: a new id would make CloudFormation delete the old.
    props = event["ResourceProperties"]
    return event.get("PhysicalResourceId") or f"{props['ClusterArn']}/{props['Database']}/schema"


def on_event(event: dict[str, Any], context: Any = None, *, client: DataApiClient | None = None,
             manifest: dict[str, Any] | None = None, secrets_client: Any = None) -> dict[str, Any]:  # fmt: skip
    request_type = event["RequestType"]
    props = event["ResourceProperties"]
    log.info("%s %s (manifest %s)", request_type, physical_id(event), str(props.get("ManifestHash"))[:12])
    if request_type == "Delete":
        log.info("Delete: keeping all data; the cluster's removal policy decides what happens to it")
        return {"PhysicalResourceId": physical_id(event)}
    try:
        summary = run(event, context, client=client, manifest=manifest, secrets_client=secrets_client)
    except MigrationStillRunning as exc:
        log.info("%s; the Provider's isComplete handler keeps watching it", exc)
        waiting = {"Pending": "true", "WaitingSince": str(int(time.time()))}
        return {"PhysicalResourceId": physical_id(event), "Data": waiting}
    return {"PhysicalResourceId": physical_id(event), "Data": data(summary)}


def is_complete(event: dict[str, Any], context: Any = None, *, client: DataApiClient | None = None,
                manifest: dict[str, Any] | None = None, secrets_client: Any = None) -> dict[str, Any]:  # fmt: skip
    """Called by the Provider's waiter after on_event; resumes the run on_event left waiting, if any."""
    if event["RequestType"] == "Delete" or (event.get("Data") or {}).get("Pending") != "true":
        return {"IsComplete": True}
    try:
        summary = run(event, context, client=client, manifest=manifest, secrets_client=secrets_client)
    except MigrationStillRunning as exc:
        waited = time.time() - float((event.get("Data") or {}).get("WaitingSince") or time.time())
        if waited >= WAIT_LIMIT_SECONDS:
            raise MigrationStillRunning(
                exc.running,
                f"migration {exc.running}; this deploy stopped waiting after {waited / 60:.0f} min "
                "(CloudFormation allows a custom resource one hour). Watch it with `alex-db status --stack "
                "<stack>`; deploy again when it has finished: the next deploy records it without running it again",
            ) from None
        log.info("%s; asking again in the Provider's next query interval", exc)
        return {"IsComplete": False}
    return {"IsComplete": True, "Data": {**data(summary), "Pending": "false"}}


def run(event: dict[str, Any], context: Any, *, client: DataApiClient | None, manifest: dict[str, Any] | None,
        secrets_client: Any) -> InitSummary:  # fmt: skip
    props = event["ResourceProperties"]
    client = client or DataApiClient(
        boto3_rds_data_client(),
        resource_arn=props["ClusterArn"],
        secret_arn=props["SecretArn"],
        database=props["Database"],
        retry=retry_policy(),
    )
    return initialize_for_request(
        client,
        manifest or load_manifest(MANIFEST_PATH),
        requested_hash=props.get("ManifestHash"),
        requested_migrations=props.get("Migrations") or (),
        app_role=app_role(props, secrets_client),
        progress=log.info,
        locks=lock_policy(props),
        deadline=deadline(context),
    )


def data(summary: InitSummary) -> dict[str, str]:
    applied = ",".join(summary.migrations_applied) or "none"
    return {
        "SchemaVersion": str(summary.schema_version),
        "MigrationsApplied": applied if len(applied) <= MAX_DATA_VALUE else applied[: MAX_DATA_VALUE - 1] + "…",
        "InstrumentCount": str(summary.instruments if summary.instruments is not None else ""),
        "Pending": "false",
    }
