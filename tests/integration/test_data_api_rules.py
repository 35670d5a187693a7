"""Each documented Data API rule LocalDataApi enforces: accepted at the limit, refused just past it, AWS's code.

The table "Data API rules enforced locally" in docs/agents.md lists these tests row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from alex_db.devtools.local_engine import LocalDataApi
from alex_db.errors import DataApiError, ResultValueError
from alex_db.limits import ENGINE_HEADER_BYTES, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, MAX_ROW_BYTES, MAX_SQL_CHARS
from tests.conftest import CLUSTER_ARN, SECRET_ARN

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def call(api: LocalDataApi, database: str, sql: str, parameters=None, **kwargs):
    request = {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN, "database": database, "sql": sql, **kwargs}
    if parameters is not None:
        request["parameters"] = parameters
    return api.execute_statement(**request)


def refused(code: str, function, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        function(*args, **kwargs)
    assert caught.value.response["Error"]["Code"] == code
    return caught.value.response["Error"]["Message"]


def text(name: str, value: str, hint: str | None = None) -> dict:
    parameter = {"name": name, "value": {"stringValue": value}}
    return {**parameter, "typeHint": hint} if hint else parameter


def test_sql_length(api, database):
    def padded(length: int) -> str:
        return "SELECT 1 AS one " + " " * (length - 16)

    assert call(api, database, padded(MAX_SQL_CHARS))["records"] == [[{"longValue": 1}]]
    message = refused("ValidationException", call, api, database, padded(MAX_SQL_CHARS + 1))
    assert "less than or equal to 65536" in message


def test_row_size(api, database):
    # One text field of n characters is n + 2 bytes in the response (its JSON quotes).
    at_limit = call(
        api, database, "SELECT repeat('x', :n) AS v", [{"name": "n", "value": {"longValue": MAX_ROW_BYTES - 2}}]
    )
    assert len(at_limit["records"][0][0]["stringValue"]) == MAX_ROW_BYTES - 2
    message = refused(
        "UnsupportedResultException",
        call, api, database, "SELECT repeat('x', :n) AS v", [{"name": "n", "value": {"longValue": MAX_ROW_BYTES - 1}}],
    )  # fmt: skip
    assert "65537 bytes" in message


def test_response_size(api, database):
    def records(rows: int, last: int) -> list:
        return [[{"stringValue": "x" * 65_000}]] * rows + [[{"stringValue": "x" * last}]]

    base = len(json.dumps(records(16, 0), ensure_ascii=False))
    last = MAX_RESPONSE_BYTES - base  # the 17th row's length that makes the response exactly 1 MiB
    sql = "SELECT repeat('x', CASE WHEN g <= 16 THEN 65000 ELSE :last END) AS v FROM generate_series(1, 17) g"
    response = call(api, database, sql, [{"name": "last", "value": {"longValue": last}}])
    assert len(json.dumps(response["records"], ensure_ascii=False)) == MAX_RESPONSE_BYTES
    message = refused(
        "BadRequestException", call, api, database, sql, [{"name": "last", "value": {"longValue": last + 1}}]
    )
    assert "response size limit" in message


def test_request_size(api, database):
    sql = "SELECT length(:p) AS n"

    def request(length: int) -> dict:
        return {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN, "database": database, "sql": sql,
                "parameters": [text("p", "x" * length)]}  # fmt: skip

    # The 4 MiB include the HTTP headers: the engine counts botocore's JSON body plus 2 KiB of them.
    length = MAX_REQUEST_BYTES - ENGINE_HEADER_BYTES - len(json.dumps(request(0)))
    assert api.execute_statement(**request(length))["records"] == [[{"longValue": length}]]
    refused("ValidationException", api.execute_statement, **request(length + 1))


def test_the_client_sends_what_aws_accepts_and_refuses_only_what_it_could_not(client, api):
    from alex_db.client import MAX_BODY_BYTES
    from alex_db.errors import ParameterError
    from alex_db.limits import CLIENT_HEADER_MARGIN_BYTES

    envelope = client._envelope({"sql": "SELECT length(:p) AS n", "includeResultMetadata": True})
    overhead = len(json.dumps({**envelope, "parameters": [text("p", "")]}))
    fits = MAX_BODY_BYTES - overhead  # 4 MiB - 16 KiB of headers: a 4.08 MB payload is sent
    assert fits > MAX_REQUEST_BYTES - CLIENT_HEADER_MARGIN_BYTES - 1024
    assert client.query_one("SELECT length(:p) AS n", {"p": "x" * fits}) == {"n": fits}
    api.reset_counts()
    with pytest.raises(ParameterError, match=r"the request is 4,177,921 bytes of JSON.*parameter :p alone"):
        client.query_one("SELECT length(:p) AS n", {"p": "x" * (fits + 1)})
    assert sum(api.calls.values()) == 0  # refused before sending, and the message says what counts


def test_malformed_sql_parameters_get_the_data_api_error_never_a_python_one(api, database):
    sql = "SELECT CAST(:v AS text) AS v"
    for parameter, code in (
        ({"name": "v", "value": {"stringValue": "12,50"}, "typeHint": "DECIMAL"}, "BadRequestException"),
        ({"name": "v", "value": {"longValue": 2**63}}, "ValidationException"),
        ({"name": "v", "value": {"stringValue": "a\ud800b"}}, "BadRequestException"),
        ({"name": "v", "value": {"doubleValue": float("nan")}}, "SerializationException"),
    ):
        refused(code, call, api, database, sql, [parameter])
    # botocore sends a str blob as its UTF-8 bytes: accepted, as boto3 would send it
    blob = {"name": "v", "value": {"blobValue": "héllo"}}
    assert call(api, database, "SELECT octet_length(:v) AS n", [blob])["records"] == [[{"longValue": 6}]]


def test_a_lone_surrogate_is_a_parameter_error_before_any_call(client, api):
    from alex_db.errors import ParameterError

    api.reset_counts()
    with pytest.raises(ParameterError, match=r"parameter :note: character 2 is a lone surrogate"):
        client.execute("SELECT :note AS n", {"note": "ab\ud83dcd"})
    with pytest.raises(ParameterError, match=r"parameter :doc: .*lone surrogate"):
        client.batch("SELECT CAST(:doc AS jsonb)", [{"doc": {"ok": 1}}, {"doc": {"text": "\udc00"}}])
    assert sum(api.calls.values()) == 0


@pytest.mark.parametrize(
    ("hint", "accepted", "refused_value"),
    [
        ("TIMESTAMP", "2024-05-01 12:00:00.123", "2024-05-01 12:00:00.1234"),
        ("TIMESTAMP", "2024-05-01 12:00:00", "2024-05-01T12:00:00"),
        ("TIME", "08:30:01.987", "08:30:01.987654"),
        ("DATE", "2024-05-01", "2024-5-1"),
    ],
)
def test_typehint_formats(api, database, hint, accepted, refused_value):
    sql = f"SELECT CAST(:v AS {hint.lower()}) AS v"
    assert call(api, database, sql, [text("v", accepted, hint)])["records"][0][0]["stringValue"].startswith(
        accepted[:10]
    )
    assert hint in refused("BadRequestException", call, api, database, sql, [text("v", refused_value, hint)])


def test_nul_in_text_is_refused_not_truncated(client):
    client.execute("CREATE TABLE names (name text)")
    with pytest.raises(DataApiError, match=r'invalid byte sequence for encoding "UTF8": 0x00; SQLState: 22021'):
        client.execute("INSERT INTO names VALUES (:name)", {"name": "Ann\x00Evil"})
    assert client.query("SELECT name FROM names") == []


def test_statement_timeout_and_continue_after_timeout(pg_server, database):
    api = LocalDataApi(pg_server.dsn(database), statement_timeout_seconds=0.3)
    try:
        assert call(api, database, "SELECT 1 AS done FROM pg_sleep(0.1)")["records"] == [[{"longValue": 1}]]
        # AWS, ExecuteStatement continueAfterTimeout: "By default, the statement stops running when the call
        # times out." With it, the call still times out, but the statement runs on to its end.
        refused("StatementTimeoutException", call, api, database, "CREATE TABLE stopped AS SELECT 1 FROM pg_sleep(0.6)")
        refused("StatementTimeoutException", call, api, database,
                "CREATE TABLE finished AS SELECT 1 AS done FROM pg_sleep(0.6)", continueAfterTimeout=True)  # fmt: skip
        time.sleep(0.6)
        assert call(
            api, database, "SELECT to_regclass('finished') IS NOT NULL AS f, to_regclass('stopped') IS NOT NULL AS s"
        )["records"] == [[{"booleanValue": True}, {"booleanValue": False}]]
        quick = call(api, database, "SELECT 1 AS done FROM pg_sleep(0.1)", continueAfterTimeout=True)
        assert quick["records"] == [[{"longValue": 1}]]  # under the limit: an ordinary answer
    finally:
        api.close()


def test_idle_transaction_expires(pg_server, database):
    api = LocalDataApi(pg_server.dsn(database), transaction_idle_seconds=0.2)
    try:
        ids = {"resourceArn": CLUSTER_ARN, "secretArn": SECRET_ARN}
        kept = api.begin_transaction(**ids, database=database)["transactionId"]
        call(api, database, "SELECT 1", transactionId=kept)
        time.sleep(0.1)
        call(api, database, "SELECT 1", transactionId=kept)  # used within the window: still alive
        time.sleep(0.3)
        refused("TransactionNotFoundException", call, api, database, "SELECT 1", transactionId=kept)
    finally:
        api.close()


def test_unsupported_results(api, database):
    message = refused("UnsupportedResultException", call, api, database, "SELECT ARRAY[[1, 2], [3, 4]] AS m")
    assert "multidimensional" in message


@pytest.mark.parametrize(
    ("sql", "shown"),
    [
        ("SELECT 'infinity'::date AS d", "'infinity'"),
        ("SELECT '10000-01-01'::timestamp AS d", "'10000-01-01 00:00:00'"),
        ("SELECT '0044-03-15 BC'::date AS d", "'0044-03-15 BC'"),
        ("SELECT '-infinity'::timestamptz AS d", "'-infinity'"),
    ],
)
def test_values_python_cannot_hold_are_one_clear_error(client, sql, shown):
    with pytest.raises(ResultValueError, match=rf"column d \(\w+\): {shown} cannot be decoded"):
        client.query(sql)


def test_statement_count_agrees_with_the_migration_splitter(api, database):
    body = "CREATE FUNCTION two() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END"
    call(api, database, body)  # one statement, as pglast.split (the synth-time splitter) sees it
    assert call(api, database, "SELECT two() AS v")["records"] == [[{"longValue": 2}]]
    assert "Multistatements" in refused("ValidationException", call, api, database, "SELECT 1; SELECT 2")
    # a[1:n] is a placeholder to the engine exactly as to the migration rules (tests/unit/test_migration_rules.py)
    refused("BadRequestException", call, api, database, "SELECT (ARRAY[1, 2, 3])[1:n] FROM (SELECT 2 AS n) s")
    sliced = call(api, database, "SELECT (ARRAY[1, 2, 3])[1: n] AS a FROM (SELECT 2 AS n) s")
    assert sliced["records"] == [[{"arrayValue": {"longValues": [1, 2]}}]]


def test_timestamps_are_sent_with_three_fractional_digits(client):
    value = dt.datetime(2024, 5, 1, 12, 0, 0, 123456)
    assert client.query_one("SELECT CAST(:t AS timestamp) AS t", {"t": value})["t"] == value.replace(microsecond=123000)


def test_percent_signs_reach_postgresql_as_written(api, database):
    assert call(api, database, "SELECT format('%s%%', 5) AS v")["records"] == [[{"stringValue": "5%"}]]
    with_parameter = call(api, database, "SELECT format('%s%%', :n) AS v", [{"name": "n", "value": {"longValue": 5}}])
    assert with_parameter["records"] == [[{"stringValue": "5%"}]]
