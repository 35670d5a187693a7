"""LocalDataApi refuses what the Data API refuses and answers in the Data API's shapes."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from alex_db.devtools.local_engine import LocalDataApi
from tests.conftest import CLUSTER_ARN, SECRET_ARN


def call(api: LocalDataApi, database: str, sql: str, **kwargs):
    return api.execute_statement(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database, sql=sql, **kwargs)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_requests_are_validated_against_botocore_model(api, database):
    with pytest.raises(ParamValidationError, match=r"Missing required parameter.*resourceArn"):
        api.execute_statement(secretArn=SECRET_ARN, sql="SELECT 1")
    with pytest.raises(ParamValidationError, match='Unknown parameter in input: "sqlText"'):
        api.execute_statement(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, sqlText="SELECT 1")
    with pytest.raises(ParamValidationError, match=r"Invalid type for parameter parameters\[0\]\.value\.longValue"):
        call(api, database, "SELECT :n", parameters=[{"name": "n", "value": {"longValue": "1"}}])
    # botocore leaves enums to the service, which answers ValidationException.
    with pytest.raises(ClientError, match="typeHint 'MONEY'"):
        call(api, database, "SELECT :n", parameters=[{"name": "n", "value": {"stringValue": "1"}, "typeHint": "MONEY"}])


def test_several_statements_are_refused(api, database):
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT 1; SELECT 2")
    assert error_code(excinfo) == "ValidationException"
    assert "Multistatements aren't supported" in str(excinfo.value)


def test_array_parameters_are_refused(api, database):
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT :a", parameters=[{"name": "a", "value": {"arrayValue": {"longValues": [1]}}}])
    assert error_code(excinfo) == "BadRequestException"


def test_unknown_transaction_is_not_found(api, database):
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT 1", transactionId="bm8tc3VjaC10cmFuc2FjdGlvbg==")
    assert error_code(excinfo) == "TransactionNotFoundException"


def test_finished_transaction_is_not_found(api, database):
    txn = api.begin_transaction(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database)["transactionId"]
    response = api.commit_transaction(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, transactionId=txn)
    assert response["transactionStatus"] == "Transaction Committed"
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT 1", transactionId=txn)
    assert error_code(excinfo) == "TransactionNotFoundException"


def test_one_call_at_a_time_per_transaction(api, database):
    txn = api.begin_transaction(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database)["transactionId"]
    started = threading.Event()
    results = {}

    def slow():
        started.set()
        results["slow"] = call(api, database, "SELECT pg_sleep(0.5)", transactionId=txn)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait()
    deadline = time.monotonic() + 5
    while not api._transactions[txn].lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the slow statement is really running
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT 1", transactionId=txn)
    worker.join()
    assert error_code(excinfo) == "BadRequestException"
    assert "still running a query" in str(excinfo.value)


def test_database_errors_carry_postgres_message_and_sqlstate(api, database):
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT * FROM missing_table")
    assert error_code(excinfo) == "DatabaseErrorException"
    assert 'relation "missing_table" does not exist' in str(excinfo.value)
    assert "SQLState: 42P01" in str(excinfo.value)


def test_string_without_type_hint_is_varchar_like_aws(api, database):
    # AWS binds an un-hinted stringValue as varchar: comparing it with uuid fails there, and here.
    call(api, database, "CREATE TABLE t (id uuid)")
    value = {"stringValue": "00000000-0000-0000-0000-000000000001"}
    with pytest.raises(ClientError, match="operator does not exist: uuid = character varying"):
        call(api, database, "SELECT * FROM t WHERE id = :id", parameters=[{"name": "id", "value": value}])
    hinted = [{"name": "id", "value": value, "typeHint": "UUID"}]
    assert call(api, database, "SELECT * FROM t WHERE id = :id", parameters=hinted)["records"] == []


def test_results_are_encoded_as_aws_documents(api, database):
    response = call(
        api,
        database,
        "SELECT 1::int AS i, 2.50::numeric(5,2) AS n, 'x'::text AS s, NULL::int AS z, true AS b, "
        "'{\"k\": 1}'::jsonb AS j, ARRAY[1, 2] AS a, '\\x01'::bytea AS blob, 0.5::float8 AS f, "
        "'2024-01-02 03:04:05+02'::timestamptz AS tz",
        includeResultMetadata=True,
    )
    (row,) = response["records"]
    assert row == [
        {"longValue": 1},
        {"stringValue": "2.50"},
        {"stringValue": "x"},
        {"isNull": True},
        {"booleanValue": True},
        {"stringValue": '{"k": 1}'},
        {"arrayValue": {"longValues": [1, 2]}},
        {"blobValue": b"\x01"},
        {"doubleValue": 0.5},
        {"stringValue": "2024-01-02 01:04:05"},
    ]
    types = [c["typeName"] for c in response["columnMetadata"]]
    assert types == ["int4", "numeric", "text", "int4", "bool", "jsonb", "_int4", "bytea", "float8", "timestamptz"]
    assert response["numberOfRecordsUpdated"] == 0
    assert "columnMetadata" not in call(api, database, "SELECT 1")


def test_dml_reports_rows_updated(api, database):
    call(api, database, "CREATE TABLE t (x int)")
    response = call(api, database, "INSERT INTO t VALUES (1), (2), (3)")
    assert response["numberOfRecordsUpdated"] == 3
    assert "records" not in response


def test_placeholders_in_literals_are_not_bound(api, database):
    response = call(
        api,
        database,
        "SELECT ':x' AS literal, :x AS bound, $$:x$$ AS dollar, 'a%b' AS percent",
        parameters=[{"name": "x", "value": {"stringValue": "value"}}],
    )
    assert response["records"] == [
        [{"stringValue": ":x"}, {"stringValue": "value"}, {"stringValue": ":x"}, {"stringValue": "a%b"}]
    ]


def test_missing_parameter_is_a_bad_request(api, database):
    with pytest.raises(ClientError) as excinfo:
        call(api, database, "SELECT :missing")
    assert error_code(excinfo) == "BadRequestException"
    assert "missing" in str(excinfo.value)


def test_batch_runs_each_parameter_set_and_is_atomic(api, database):
    call(api, database, "CREATE TABLE t (x int PRIMARY KEY)")
    sets = [[{"name": "x", "value": {"longValue": i}}] for i in (1, 2)]
    response = api.batch_execute_statement(
        resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database, sql="INSERT INTO t VALUES (:x)",
        parameterSets=sets,
    )  # fmt: skip
    assert response["updateResults"] == [{"generatedFields": []}, {"generatedFields": []}]
    with pytest.raises(ClientError):
        api.batch_execute_statement(
            resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database, sql="INSERT INTO t VALUES (:x)",
            parameterSets=[[{"name": "x", "value": {"longValue": 3}}], sets[0]],
        )  # fmt: skip
    assert call(api, database, "SELECT count(*) FROM t")["records"] == [[{"longValue": 2}]]


def test_response_over_one_mebibyte_is_refused(api, database):
    with pytest.raises(ClientError, match="response size limit"):
        call(api, database, "SELECT repeat('x', 1024) FROM generate_series(1, 1100)")


def test_execute_sql_is_unsupported(api):
    with pytest.raises(ClientError) as excinfo:
        api.execute_sql(dbClusterOrInstanceArn=CLUSTER_ARN, awsSecretStoreArn=SECRET_ARN, sqlStatements="SELECT 1")
    assert error_code(excinfo) == "BadRequestException"


def test_counts_calls_and_injects_faults(api, database):
    api.inject_fault("DatabaseResumingException", times=2, operations=("ExecuteStatement",))
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            call(api, database, "SELECT 1")
        assert error_code(excinfo) == "DatabaseResumingException"
    call(api, database, "SELECT 1")
    assert api.calls["ExecuteStatement"] == 3
    with pytest.raises(ValueError, match="not an rds-data error code"):
        api.inject_fault("Kaboom")


def test_unknown_database_is_reported(api):
    with pytest.raises(ClientError) as excinfo:
        call(api, "no_such_database", "SELECT 1")
    assert error_code(excinfo) == "DatabaseNotFoundException"


def test_types_created_later_are_named_in_metadata(api, database):
    call(api, database, "SELECT 1")  # fills the type cache before the type exists
    call(api, database, "CREATE TYPE mood AS ENUM ('calm', 'busy')")
    response = call(api, database, "SELECT 'calm'::mood AS m", includeResultMetadata=True)
    assert response["columnMetadata"][0]["typeName"] == "mood"
    assert response["records"] == [[{"stringValue": "calm"}]]


# The Data API runs DISCARD ALL before it reuses a pooled connection ("Session management with
# Amazon RDS Data API"): outside a transaction nothing of a session survives into the next call.
SESSION_STATE = [
    ("CREATE TEMP TABLE scratch (id int)", "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'scratch'", 0),
    ("SET search_path = nowhere", "SELECT current_setting('search_path') AS v", '"$user", public'),
    ("SET TimeZone = 'Europe/Paris'", "SELECT current_setting('TimeZone') AS v", "UTC"),
    ("SET DateStyle = 'German'", "SELECT current_setting('DateStyle') AS v", "ISO, YMD"),
    ("PREPARE two AS SELECT 2", "SELECT count(*) AS n FROM pg_prepared_statements", 0),
    ("SELECT pg_advisory_lock(42)", "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'", 0),
    ("SET ROLE pg_read_all_data", "SELECT current_user AS v", None),  # back to the login user
]


@pytest.mark.parametrize(("change", "probe", "fresh"), SESSION_STATE, ids=[s[0].split()[1] for s in SESSION_STATE])
def test_session_state_never_survives_into_the_next_call(database, pg_server, change, probe, fresh):
    # One pooled connection: the next call is sure to reuse the one that changed its session.
    engine = LocalDataApi(pg_server.dsn(database), pool_size=1)
    try:
        login = single_value(run(engine, database, "SELECT current_user AS v"))
        run(engine, database, change)
        assert single_value(run(engine, database, probe)) == (login if fresh is None else fresh)
    finally:
        engine.close()


def test_inside_a_transaction_session_state_lives_until_commit(api, database):
    ids = {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN, "database": database}
    transaction = api.begin_transaction(**ids)["transactionId"]
    run(api, database, "CREATE TEMP TABLE scratch (id int)", transactionId=transaction)
    run(api, database, "SET search_path = nowhere, public", transactionId=transaction)
    assert single_value(run(api, database, "SELECT count(*) AS n FROM scratch", transactionId=transaction)) == 0
    assert single_value(run(api, database, "SHOW search_path", transactionId=transaction)) == "nowhere, public"
    api.commit_transaction(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, transactionId=transaction)
    assert single_value(run(api, database, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'scratch'")) == 0


def run(engine: LocalDataApi, database: str, sql: str, **extra) -> dict:
    return engine.execute_statement(resourceArn=CLUSTER_ARN, secretArn=SECRET_ARN, database=database, sql=sql,
                                    **extra)  # fmt: skip


def single_value(response: dict):
    (record,) = response.get("records") or [[{"isNull": True}]]
    (field,) = record
    return next(iter(field.values()))
