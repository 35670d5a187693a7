"""The create-rollback release handler: protection off only while the stack's first create rolls back.

RDS and CloudFormation do not run here, so botocore's Stubber stands in for them: it checks every
request against the real service models and answers with documented response shapes.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from protection_release.handler import on_event

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/AlexDatabase-prod/0f0f0f0f"


def event(request_type: str) -> dict:
    return {
        "RequestType": request_type,
        "StackId": STACK_ID,
        "ResourceProperties": {"ClusterIdentifier": "alex-prod"},
        **({"PhysicalResourceId": "alex-prod/create-rollback-release"} if request_type != "Create" else {}),
    }


@pytest.fixture
def clients():
    cloudformation = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")  # fmt: skip
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cloudformation) as cfn_stub, Stubber(rds) as rds_stub:
        yield cloudformation, rds, cfn_stub, rds_stub
        cfn_stub.assert_no_pending_responses()
        rds_stub.assert_no_pending_responses()


def stack_status(stub: Stubber, status: str) -> None:
    stub.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": "AlexDatabase-prod", "StackStatus": status, "CreationTime": "2026-12-01T00:00:00Z"}]},
        {"StackName": STACK_ID},
    )


def test_create_and_update_touch_nothing(clients):
    cloudformation, rds, *_ = clients
    for request_type in ("Create", "Update"):
        response = on_event(event(request_type), cloudformation=cloudformation, rds=rds)
        assert response == {"PhysicalResourceId": "alex-prod/create-rollback-release"}


@pytest.mark.parametrize(
    "status", ["DELETE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"]
)
def test_delete_outside_a_create_rollback_keeps_protection(clients, status):
    cloudformation, rds, cfn_stub, _ = clients
    stack_status(cfn_stub, status)
    on_event(event("Delete"), cloudformation=cloudformation, rds=rds)  # no RDS call was stubbed: none made


def test_delete_during_the_first_create_rollback_switches_protection_off_and_waits(clients):
    cloudformation, rds, cfn_stub, rds_stub = clients
    stack_status(cfn_stub, "ROLLBACK_IN_PROGRESS")
    rds_stub.add_response(
        "modify_db_cluster",
        {"DBCluster": {"DBClusterIdentifier": "alex-prod", "DeletionProtection": False}},
        {"DBClusterIdentifier": "alex-prod", "DeletionProtection": False, "ApplyImmediately": True},
    )
    for protected in (True, False):
        rds_stub.add_response(
            "describe_db_clusters",
            {"DBClusters": [{"DBClusterIdentifier": "alex-prod", "DeletionProtection": protected}]},
            {"DBClusterIdentifier": "alex-prod"},
        )
    slept: list[float] = []
    on_event(event("Delete"), cloudformation=cloudformation, rds=rds, sleep=slept.append)
    assert slept == [5]


def test_a_cluster_that_was_never_created_needs_no_release(clients):
    cloudformation, rds, cfn_stub, rds_stub = clients
    stack_status(cfn_stub, "ROLLBACK_IN_PROGRESS")
    rds_stub.add_client_error("modify_db_cluster", service_error_code="DBClusterNotFoundFault", http_status_code=404)
    on_event(event("Delete"), cloudformation=cloudformation, rds=rds)
