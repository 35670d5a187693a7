"""What DataApiClient sends to a real boto3 rds-data client is valid and carries the right typeHints."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from alex_db.client import DataApiClient
from alex_db.connection import boto3_rds_data_client

CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:alex-dev"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-abc"


@pytest.fixture
def rds_data():
    client = boto3.client("rds-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_execute_sends_typed_parameters(rds_data):
    client, stubber = rds_data
    stubber.add_response(
        "execute_statement",
        {
            "records": [[{"stringValue": "1.50"}, {"stringValue": '{"a": 1}'}]],
            "columnMetadata": [{"name": "n", "label": "n", "typeName": "numeric"}, {"name": "j", "typeName": "jsonb"}],
            "numberOfRecordsUpdated": 0,
        },
        {
            "resourceArn": CLUSTER,
            "secretArn": SECRET,
            "database": "alex",
            "sql": "SELECT :n AS n, :j AS j WHERE :u IS NOT NULL AND :d < :t",
            "includeResultMetadata": True,
            "parameters": [
                {"name": "n", "value": {"stringValue": "1.50"}, "typeHint": "DECIMAL"},
                {"name": "j", "value": {"stringValue": '{"a":1}'}, "typeHint": "JSON"},
                {"name": "u", "value": {"stringValue": str(uuid.UUID(int=5))}, "typeHint": "UUID"},
                {"name": "d", "value": {"stringValue": "2024-01-02"}, "typeHint": "DATE"},
                {"name": "t", "value": {"stringValue": "2024-01-03 04:05:06"}, "typeHint": "TIMESTAMP"},
            ],
        },
    )
    data_api = DataApiClient(client, resource_arn=CLUSTER, secret_arn=SECRET, database="alex")
    rows = data_api.query(
        "SELECT :n AS n, :j AS j WHERE :u IS NOT NULL AND :d < :t",
        {
            "n": Decimal("1.50"),
            "j": {"a": 1},
            "u": uuid.UUID(int=5),
            "d": dt.date(2024, 1, 2),
            "t": dt.datetime(2024, 1, 3, 4, 5, 6),
        },
    )
    assert rows == [{"n": Decimal("1.50"), "j": {"a": 1}}]


def test_transaction_and_batch_requests(rds_data):
    client, stubber = rds_data
    base = {"resourceArn": CLUSTER, "secretArn": SECRET}
    stubber.add_response("begin_transaction", {"transactionId": "tx-1"}, {**base, "database": "alex"})
    stubber.add_response(
        "batch_execute_statement",
        {"updateResults": [{"generatedFields": []}, {"generatedFields": []}]},
        {
            **base,
            "database": "alex",
            "transactionId": "tx-1",
            "sql": "INSERT INTO t VALUES (:x)",
            "parameterSets": [
                [{"name": "x", "value": {"longValue": 1}}],
                [{"name": "x", "value": {"isNull": True}}],
            ],
        },
    )
    stubber.add_response(
        "commit_transaction", {"transactionStatus": "Transaction Committed"}, {**base, "transactionId": "tx-1"}
    )
    data_api = DataApiClient(client, resource_arn=CLUSTER, secret_arn=SECRET, database="alex")
    with data_api.transaction() as tx:
        assert tx.batch("INSERT INTO t VALUES (:x)", [{"x": 1}, {"x": None}]) == 2


def test_rollback_request_on_error(rds_data):
    client, stubber = rds_data
    base = {"resourceArn": CLUSTER, "secretArn": SECRET}
    stubber.add_response("begin_transaction", {"transactionId": "tx-2"}, {**base, "database": "alex"})
    stubber.add_response(
        "rollback_transaction", {"transactionStatus": "Rollback Complete"}, {**base, "transactionId": "tx-2"}
    )
    data_api = DataApiClient(client, resource_arn=CLUSTER, secret_arn=SECRET, database="alex")
    with pytest.raises(KeyError), data_api.transaction():
        raise KeyError("x")


def test_resume_error_from_boto3_is_retried(rds_data):
    client, stubber = rds_data
    stubber.add_client_error("execute_statement", service_error_code="DatabaseResumingException", http_status_code=400)
    stubber.add_response("execute_statement", {"records": [], "columnMetadata": [], "numberOfRecordsUpdated": 0}, None)
    delays = []
    data_api = DataApiClient(client, resource_arn=CLUSTER, secret_arn=SECRET, database="alex", sleep=delays.append)
    assert data_api.query("SELECT 1") == []
    assert delays == [0.5]


def test_boto3_client_read_timeout_outlasts_statement_timeout():
    client = boto3_rds_data_client(region_name="us-east-1")
    assert client.meta.config.read_timeout >= 60
