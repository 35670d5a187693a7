"""DataApiClient over LocalDataApi: statements, batches, transactions, retries, configuration."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from alex_db import client as client_module
from alex_db.client import DataApiClient, RetryPolicy
from alex_db.connection import stack_outputs
from alex_db.errors import ConfigurationError, DataApiError, DatabaseNotReadyError, ParameterError
from tests.conftest import CLUSTER_ARN, SECRET_ARN, make_client


def test_execute_query_and_query_one(client):
    client.execute("CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), amount numeric(12,2), doc jsonb)")
    result = client.execute(
        "INSERT INTO t (amount, doc) VALUES (:amount, :doc) RETURNING id, amount, doc",
        {"amount": Decimal("10.05"), "doc": {"tags": ["a"]}},
    )
    assert result.rowcount == 1
    (row,) = result.rows
    assert isinstance(row["id"], uuid.UUID)
    assert row["amount"] == Decimal("10.05")
    assert row["doc"] == {"tags": ["a"]}
    assert client.query_one("SELECT amount FROM t WHERE id = :id", {"id": row["id"]}) == {"amount": Decimal("10.05")}
    assert client.query_one("SELECT * FROM t WHERE false") is None
    assert client.query("SELECT count(*) AS n FROM t") == [{"n": 1}]
    with pytest.raises(DataApiError, match="expected at most one row, got 2"):
        client.query_one("SELECT 1 FROM generate_series(1, 2)")


def test_batch_returns_parameter_sets_run_in_one_call(client, api):
    client.execute("CREATE TABLE t (x int)")
    api.reset_counts()
    assert client.batch("INSERT INTO t VALUES (:x)", [{"x": i} for i in range(50)]) == 50
    assert api.calls["BatchExecuteStatement"] == 1
    assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 50}


def test_batch_is_chunked_below_the_request_limit(client, api, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 2_000)
    client.execute("CREATE TABLE t (s text)")
    api.reset_counts()
    assert client.batch("INSERT INTO t VALUES (:s)", [{"s": "x" * 300} for _ in range(20)]) == 20
    assert api.calls["BatchExecuteStatement"] > 1
    assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 20}
    with pytest.raises(ParameterError, match="parameter set 0 alone is"):
        client.batch("INSERT INTO t VALUES (:s)", [{"s": "x" * 5_000}])


def test_transaction_commits_on_success(client):
    client.execute("CREATE TABLE t (x int)")
    with client.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        assert tx.query_one("SELECT count(*) AS n FROM t") == {"n": 1}
        assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 0}  # not visible outside yet
    assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 1}


def test_transaction_rolls_back_on_any_exception(client, api):
    client.execute("CREATE TABLE t (x int)")
    with pytest.raises(RuntimeError, match="boom"), client.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 0}
    assert api.calls["RollbackTransaction"] == 1
    with pytest.raises(DataApiError, match="division by zero"), client.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (2)")
        tx.execute("SELECT 1 / 0")
    assert client.query_one("SELECT count(*) AS n FROM t") == {"n": 0}


def test_resuming_cluster_is_retried_with_backoff_within_budget(client, api, sleeper, caplog):
    api.inject_fault("DatabaseResumingException", times=3)
    with caplog.at_level(logging.WARNING, logger="alex_db"):
        assert client.query_one("SELECT 1 AS one") == {"one": 1}
    assert sleeper.delays == [0.5, 1.0, 2.0]
    assert len([r for r in caplog.records if "DatabaseResumingException" in r.getMessage()]) == 3


@pytest.mark.parametrize("code", ["DatabaseUnavailableException", "ThrottlingException"])
def test_other_transient_errors_are_retried(client, api, code):
    api.inject_fault(code, times=2)
    assert client.query_one("SELECT 1 AS one") == {"one": 1}


def test_retry_budget_is_bounded(api, database, sleeper):
    client = make_client(api, database, sleeper, retry=RetryPolicy(budget_seconds=20))
    api.inject_fault("DatabaseResumingException", times=100)
    with pytest.raises(DatabaseNotReadyError, match=r"retry budget 20 s") as excinfo:
        client.query("SELECT 1")
    assert excinfo.value.code == "DatabaseResumingException"
    assert sum(sleeper.delays) <= 20
    assert max(sleeper.delays) <= RetryPolicy().max_delay


def test_other_errors_surface_at_once_with_database_message(client, api, sleeper):
    with pytest.raises(DataApiError) as excinfo:
        client.execute("SELEC 1")
    assert excinfo.value.code == "DatabaseErrorException"
    assert 'syntax error at or near "SELEC"' in str(excinfo.value)
    assert "running: SELEC 1" in str(excinfo.value)
    assert sleeper.delays == []
    assert api.calls["ExecuteStatement"] == 1


def test_missing_configuration_names_what_was_looked_for():
    with pytest.raises(ConfigurationError, match=r"AURORA_CLUSTER_ARN, AURORA_SECRET_ARN not set"):
        DataApiClient.from_env(api=object(), environ={})
    client = DataApiClient.from_env(
        api=object(), environ={"AURORA_CLUSTER_ARN": CLUSTER_ARN, "AURORA_SECRET_ARN": SECRET_ARN}
    )
    assert (client.resource_arn, client.secret_arn, client.database) == (CLUSTER_ARN, SECRET_ARN, "alex")
    with pytest.raises(ConfigurationError, match="needs resource_arn"):
        DataApiClient(object(), resource_arn="", secret_arn=SECRET_ARN, database="alex")


def cloudformation_stub(outputs: dict[str, str] | None, error: str | None = None):
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cfn)
    if error:
        stubber.add_client_error("describe_stacks", service_error_code="ValidationError", service_message=error)
    else:
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "AlexDatabase-dev",
                        "CreationTime": "2026-01-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()],
                    }
                ]
            },
            {"StackName": "AlexDatabase-dev"},
        )
    stubber.activate()
    return cfn


def test_from_stack_reads_the_outputs():
    cfn = cloudformation_stub({"ClusterArn": CLUSTER_ARN, "SecretArn": SECRET_ARN, "DatabaseName": "alex"})
    client = DataApiClient.from_stack("AlexDatabase-dev", cloudformation=cfn, api=object())
    assert (client.resource_arn, client.secret_arn, client.database) == (CLUSTER_ARN, SECRET_ARN, "alex")


def test_from_stack_names_missing_outputs_and_missing_stacks():
    with pytest.raises(ConfigurationError, match=r"has no output\(s\) SecretArn, DatabaseName"):
        stack_outputs("AlexDatabase-dev", cloudformation=cloudformation_stub({"ClusterArn": CLUSTER_ARN}))
    with pytest.raises(ConfigurationError, match=r"cannot read stack 'AlexDatabase-dev': Stack .* does not exist"):
        stack_outputs(
            "AlexDatabase-dev",
            cloudformation=cloudformation_stub(None, error="Stack with id AlexDatabase-dev does not exist"),
        )


def test_login_failure_during_rotation_is_retried_a_few_times(client, api, sleeper):
    login = 'FATAL: password authentication failed for user "alex_admin"'
    api.inject_fault("BadRequestException", times=2, message=login)
    assert client.query_one("SELECT 1 AS one") == {"one": 1}
    assert len(sleeper.delays) == 2
    api.inject_fault("BadRequestException", times=5, message=login)
    with pytest.raises(DataApiError, match="password authentication failed"):
        client.query("SELECT 1")
    assert api.calls["ExecuteStatement"] == 3 + 3  # first query: 3 calls; second: gives up after 3
