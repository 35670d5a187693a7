"""Custom resource that lets a failed *first create* of a deletion-protected cluster roll back cleanly.

RDS refuses to delete a cluster with deletion protection from every API, CloudFormation's rollback
included, so a first create that fails after the cluster exists ends in ROLLBACK_FAILED and its
fixed name blocks the retry. The stack creates this resource right after the cluster and everything
else after it (stacks/create_rollback.py). On Delete it reads its stack's status and switches the
cluster's protection off only while the stack rolls back its first create (ROLLBACK_IN_PROGRESS);
an update rollback (UPDATE_ROLLBACK_IN_PROGRESS) or a stack delete (DELETE_IN_PROGRESS) leaves it on.
CloudFormation stack status codes: AWS CloudFormation User Guide, "Stack status codes".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("alex_db")
log.setLevel(logging.INFO)

CREATE_ROLLBACK = "ROLLBACK_IN_PROGRESS"
WAIT_SECONDS = 120  # ModifyDBCluster applies DeletionProtection at once; allow for a modifying cluster


def on_event(
    event: dict[str, Any],
    context: Any = None,
    *,
    cloudformation: Any = None,
    rds: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    cluster = event["ResourceProperties"]["ClusterIdentifier"]
    physical_id = event.get("PhysicalResourceId") or f"{cluster}/create-rollback-release"
    if event["RequestType"] != "Delete":
        return {"PhysicalResourceId": physical_id}
    cloudformation = cloudformation or _client("cloudformation")
    status = cloudformation.describe_stacks(StackName=event["StackId"])["Stacks"][0]["StackStatus"]
    if status != CREATE_ROLLBACK:
        log.info("Delete during %s: deletion protection of %s stays as it is", status, cluster)
        return {"PhysicalResourceId": physical_id}
    release(rds or _client("rds"), cluster, sleep=sleep)
    return {"PhysicalResourceId": physical_id}


def release(rds: Any, cluster: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Switch deletion protection off and wait until RDS reports it off (so CloudFormation's delete works)."""
    log.info("first create is rolling back: switching deletion protection of %s off", cluster)
    deadline = WAIT_SECONDS
    while True:
        try:
            rds.modify_db_cluster(DBClusterIdentifier=cluster, DeletionProtection=False, ApplyImmediately=True)
            break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "DBClusterNotFoundFault":
                log.info("%s does not exist: nothing to release", cluster)
                return
            if code != "InvalidDBClusterStateFault" or deadline <= 0:
                raise
        sleep(10)
        deadline -= 10
    while deadline > 0:
        (described,) = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"]
        if not described.get("DeletionProtection"):
            return
        sleep(5)
        deadline -= 5
    raise TimeoutError(f"deletion protection of {cluster} still on after {WAIT_SECONDS} s")


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)
