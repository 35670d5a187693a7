"""LocalDataApi: an rds-data-shaped engine over psycopg and a real PostgreSQL.

Same method names, keyword arguments and response dicts as ``boto3.client("rds-data")``. Every
request is checked against botocore's own rds-data model, and what AWS refuses is refused here
with AWS's error codes (several statements per call, array parameters, unknown transaction ids,
a second call on a busy transaction). Results are encoded as the Data API documents them.
Counters per operation and injectable faults serve the benchmarks and the retry tests.
"""

from __future__ import annotations

import base64
import collections
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import psycopg
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator
from psycopg import errors as pg_errors
from psycopg.conninfo import make_conninfo
from psycopg.types.string import TextLoader

from alex_db.client import DataApiClient
from alex_db.devtools.wire_format import (
    DATE_TIME_LOADERS,
    RDS_DATA_MODEL,
    RESTRICTED_PASSWORD_MESSAGE,
    JsonDumper,
    JsonText,
    UnsupportedResult,
    Varchar,
    VarcharDumper,
    bind,
    check_request,
    check_response_size,
    check_row_sizes,
    check_single_statement,
    client_error,
    column_metadata,
    database_error,
    format_json,
    is_password_command,
    rows_updated,
    to_field,
)
from alex_db.limits import STATEMENT_TIMEOUT_SECONDS, TRANSACTION_IDLE_SECONDS

# Errors any AWS endpoint may answer, beyond the ones the rds-data model lists.
_COMMON_AWS_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "ExpiredTokenException"})


@dataclass
class _Transaction:
    connection: psycopg.Connection
    database: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    code: str
    message: str
    remaining: int
    operations: frozenset[str] | None


STATEMENTS_KEPT = 10_000


class LocalDataApi:
    """Answers rds-data calls from a real PostgreSQL; construct with a libpq DSN.

    `statement_timeout_seconds` and `transaction_idle_seconds` default to the Data API's 45 s and
    3 minutes; tests scale them down to exercise both without waiting.

    With `secrets` (anything with boto3's `get_secret_value`, e.g. LocalSecretsManager), each call
    logs in as the `username`/`password` of its `secretArn`'s AWSCURRENT version, as the Data API
    does, so privileges and password changes are PostgreSQL's own. Without it, every call uses the
    DSN's user.
    """

    _model = RDS_DATA_MODEL
    _validator = ParamValidator()

    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int = 8,
        statement_timeout_seconds: float = STATEMENT_TIMEOUT_SECONDS,
        transaction_idle_seconds: float = TRANSACTION_IDLE_SECONDS,
        secrets: Any | None = None,
        restrict_password_commands: bool = True,
    ) -> None:
        self.dsn = dsn
        self.secrets = secrets
        # Aurora with this stack's cluster parameter group (rds.restrict_password_commands = 1).
        self.restrict_password_commands = restrict_password_commands
        self.statement_timeout_ms = int(statement_timeout_seconds * 1000)
        self.transaction_idle_seconds = transaction_idle_seconds
        self.default_database = psycopg.conninfo.conninfo_to_dict(dsn).get("dbname") or "postgres"
        self.calls: collections.Counter[str] = collections.Counter()
        self.rows_sent: collections.Counter[str] = collections.Counter()
        # The SQL of the latest ExecuteStatement/BatchExecuteStatement calls, in order (bounded: an engine
        # may live as long as a developer's session).
        self.statements: collections.deque[str] = collections.deque(maxlen=STATEMENTS_KEPT)
        self._pool_size = pool_size
        self._pools: dict[tuple[str, ...], list[psycopg.Connection]] = collections.defaultdict(list)
        self._transactions: dict[str, _Transaction] = {}
        self._faults: list[_Fault] = []
        self._type_names: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    # -- test and benchmark hooks

    def inject_fault(
        self,
        code: str = "DatabaseResumingException",
        *,
        times: int = 1,
        operations: tuple[str, ...] | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next `times` calls (of `operations`, default any) fail with error `code`."""
        if code not in {s.name for s in self._model.error_shapes} | _COMMON_AWS_ERRORS:
            raise ValueError(f"{code} is not an rds-data error code")
        default = {
            "DatabaseResumingException": "The Aurora DB instance db-XXXX is resuming after being auto-paused. "
            "Please wait a few seconds and try again.",
        }.get(code, f"injected {code}")
        with self._lock:
            self._faults.append(_Fault(code, message or default, times, frozenset(operations) if operations else None))

    def reset_counts(self) -> None:
        self.calls.clear()
        self.rows_sent.clear()
        self.statements.clear()

    def close(self) -> None:
        with self._lock:
            for txn in self._transactions.values():
                txn.connection.close()
            self._transactions.clear()
            for pool in self._pools.values():
                for conn in pool:
                    conn.close()
            self._pools.clear()

    # -- rds-data operations

    def execute_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("ExecuteStatement", kwargs)
        sql = kwargs["sql"]
        check_single_statement("ExecuteStatement", sql)
        query, values = bind("ExecuteStatement", sql, kwargs.get("parameters", []))
        timeout = not kwargs.get("continueAfterTimeout", False)
        if not timeout and not kwargs.get("transactionId"):
            return self._continue_after_timeout(kwargs, sql, query, values)
        with self._connection("ExecuteStatement", kwargs) as conn, conn.cursor() as cur:
            self._check_password_command(cur, "ExecuteStatement", sql)
            self._run(cur, "ExecuteStatement", query, values, timeout)
            response = self._statement_response(conn, cur, kwargs)
        return self._ok(response)

    def _statement_response(self, conn: psycopg.Connection, cur: psycopg.Cursor, kwargs: dict[str, Any]) -> dict:
        """ExecuteStatement's answer for the statement `cur` ran: rows updated, records, metadata, limits."""
        response: dict[str, Any] = {"numberOfRecordsUpdated": rows_updated(cur), "generatedFields": []}
        if cur.description is not None:
            rows = cur.fetchall()
            columns = [(c.name, self._type_name(conn, c.type_code), c) for c in cur.description]
            try:
                records = [[to_field(v, t) for v, (_, t, _) in zip(row, columns, strict=True)] for row in rows]
            except UnsupportedResult as exc:
                raise client_error("ExecuteStatement", "UnsupportedResultException", str(exc)) from None
            check_row_sizes("ExecuteStatement", records)
            if kwargs.get("formatRecordsAs") == "JSON":
                response["formattedRecords"] = format_json(rows, columns)
            else:
                response["records"] = records
            if kwargs.get("includeResultMetadata"):
                response["columnMetadata"] = [column_metadata(name, type_name, c) for name, type_name, c in columns]
            self.rows_sent["ExecuteStatement"] += len(rows)
        check_response_size("ExecuteStatement", response)
        return response

    def _continue_after_timeout(self, kwargs: dict[str, Any], sql: str, query: str, values: list[Any]) -> dict:
        """continueAfterTimeout outside a transaction, as the Data API does it: the call still ends at the
        call limit (StatementTimeoutException), but the statement runs on to its end in the database.

        AWS, ExecuteStatement `continueAfterTimeout`: "By default, the statement stops running when the
        call times out. For DDL statements, we recommend continuing to run the statement after the call
        times out." The statement keeps its connection (and session) until it ends; only then does the
        connection closes.
        """
        done = threading.Event()
        outcome: dict[str, Any] = {}
        database = kwargs.get("database") or self.default_database
        login = self._login("ExecuteStatement", kwargs)
        conn = self._connect("ExecuteStatement", database, autocommit=True, login=login)

        def run() -> None:
            try:
                with conn.cursor() as cur:
                    self._check_password_command(cur, "ExecuteStatement", sql)
                    self._run(cur, "ExecuteStatement", query, values, False)
                    outcome["response"] = self._statement_response(conn, cur, kwargs)
            except Exception as exc:  # reported to the caller if it still waits, else only ends the statement
                outcome["error"] = exc
            finally:
                conn.close()
                done.set()

        threading.Thread(target=run, name="continue-after-timeout", daemon=True).start()
        if not done.wait(self.statement_timeout_ms / 1000):
            raise client_error("ExecuteStatement", "StatementTimeoutException", "Request timed out", status=400)
        if "error" in outcome:
            raise outcome["error"]
        return self._ok(outcome["response"])

    def batch_execute_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("BatchExecuteStatement", kwargs)
        sql = kwargs["sql"]
        check_single_statement("BatchExecuteStatement", sql)
        parameter_sets = kwargs.get("parameterSets") or [[]]
        bound = [bind("BatchExecuteStatement", sql, params) for params in parameter_sets]
        # One set failing fails the call and applies none of the sets (outside a transaction too).
        with (
            self._connection("BatchExecuteStatement", kwargs) as conn,
            conn.transaction() if conn.autocommit else nullcontext(),
            conn.cursor() as cur,
        ):
            self._check_password_command(cur, "BatchExecuteStatement", sql)
            for query, values in bound:
                self._run(cur, "BatchExecuteStatement", query, values, True)
        return self._ok({"updateResults": [{"generatedFields": []} for _ in kwargs.get("parameterSets") or []]})

    def begin_transaction(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("BeginTransaction", kwargs)
        database = kwargs.get("database") or self.default_database
        conn = self._connect(
            "BeginTransaction", database, autocommit=False, login=self._login("BeginTransaction", kwargs)
        )
        transaction_id = base64.b64encode(secrets.token_bytes(96)).decode()
        with self._lock:
            self._transactions[transaction_id] = _Transaction(conn, database)
        return self._ok({"transactionId": transaction_id})

    def commit_transaction(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("CommitTransaction", kwargs)
        txn = self._end_transaction("CommitTransaction", kwargs["transactionId"])
        try:
            with txn.lock:
                txn.connection.commit()
        except psycopg.Error as exc:
            raise database_error("CommitTransaction", exc) from None
        finally:
            txn.connection.close()
        return self._ok({"transactionStatus": "Transaction Committed"})

    def rollback_transaction(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("RollbackTransaction", kwargs)
        txn = self._end_transaction("RollbackTransaction", kwargs["transactionId"])
        with txn.lock:
            try:
                txn.connection.rollback()
            except psycopg.OperationalError:
                pass  # the server or the connection is gone: so is the transaction
            finally:
                txn.connection.close()
        return self._ok({"transactionStatus": "Rollback Complete"})

    def execute_sql(self, **kwargs: Any) -> dict[str, Any]:
        self._begin_call("ExecuteSql", kwargs)
        raise client_error("ExecuteSql", "BadRequestException", "ExecuteSql is not supported; use ExecuteStatement")

    # -- plumbing

    def _begin_call(self, operation: str, kwargs: dict[str, Any]) -> None:
        """Validate like botocore does client-side, count the call, then play any injected fault."""
        report = self._validator.validate(kwargs, self._model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        self.calls[operation] += 1
        if "sql" in kwargs:
            self.statements.append(kwargs["sql"])
        check_request(operation, kwargs)
        self._expire_idle_transactions()
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.operations is None or operation in fault.operations):
                    fault.remaining -= 1
                    self._faults = [f for f in self._faults if f.remaining > 0]
                    raise client_error(operation, fault.code, fault.message)

    def _check_password_command(self, cur: psycopg.Cursor, operation: str, sql: str) -> None:
        """Refuse password commands from roles outside rds_password, as Aurora with the stack's parameter group."""
        if not self.restrict_password_commands or not is_password_command(sql):
            return
        cur.execute(
            "SELECT rolsuper OR (EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_password')"
            " AND pg_has_role(current_user, 'rds_password', 'MEMBER')) FROM pg_roles WHERE rolname = current_user"
        )
        row = cur.fetchone()
        if not (row and row[0]):
            raise client_error(operation, "DatabaseErrorException", RESTRICTED_PASSWORD_MESSAGE)

    @staticmethod
    def _ok(response: dict[str, Any]) -> dict[str, Any]:
        response["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
        return response

    def _run(self, cur: psycopg.Cursor, operation: str, query: str, values: list[Any], timeout: bool) -> None:
        try:
            if cur.connection.autocommit and not timeout:
                cur.execute("SET statement_timeout = 0")  # DISCARD ALL after the call restores the startup value
            cur.execute(query, values or None)
        except pg_errors.QueryCanceled:
            raise client_error(operation, "StatementTimeoutException", "Request timed out", status=400) from None
        except psycopg.Error as exc:
            raise database_error(operation, exc) from None

    @contextmanager
    def _connection(self, operation: str, kwargs: dict[str, Any]) -> Iterator[psycopg.Connection]:
        transaction_id = kwargs.get("transactionId")
        if transaction_id:
            txn = self._transaction(operation, transaction_id)
            if not txn.lock.acquire(blocking=False):
                raise client_error(operation, "BadRequestException", "Transaction is still running a query")
            try:
                yield txn.connection
            finally:
                txn.last_used = time.monotonic()
                txn.lock.release()
            return
        database = kwargs.get("database") or self.default_database
        login = self._login(operation, kwargs)
        key = (database, *login)
        with self._lock:
            pool = self._pools[key]
            conn = pool.pop() if pool else None
        if conn is None or conn.closed:
            conn = self._connect(operation, database, autocommit=True, login=login)
        try:
            yield conn
        finally:
            reusable = not (conn.closed or conn.broken) and self._forget_session(conn)
            with self._lock:
                if reusable and len(self._pools[key]) < self._pool_size:
                    self._pools[key].append(conn)
                else:
                    conn.close()

    @staticmethod
    def _forget_session(conn: psycopg.Connection) -> bool:
        """DISCARD ALL before a pooled connection is reused, as the Data API does: no temp object, SET,
        role, prepared statement or session advisory lock survives into the next call. AWS: "Session
        management with Amazon RDS Data API". TimeZone and DateStyle are startup options, so they stay."""
        try:
            conn.execute("DISCARD ALL")
            return True
        except psycopg.Error:
            return False

    def _login(self, operation: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
        """(user, password) from the secret's AWSCURRENT version, read on every call as the Data API does."""
        if self.secrets is None:
            return ()
        try:
            value = self.secrets.get_secret_value(SecretId=kwargs["secretArn"])["SecretString"]
            secret = json.loads(value)
            return (secret["username"], secret["password"])
        except (ClientError, ValueError, KeyError, TypeError) as exc:
            raise client_error(operation, "SecretsErrorException", f"Error retrieving the secret: {exc}") from None

    def _connect(
        self, operation: str, database: str, *, autocommit: bool, login: tuple[str, ...] = ()
    ) -> psycopg.Connection:
        credentials = {"user": login[0], "password": login[1]} if login else {}
        # Startup options, not SET: RESET ALL/DISCARD ALL return to them, so no call pays a round trip
        # to set them. timestamptz values leave in UTC, as the Data API's do.
        options = f"-c TimeZone=UTC -c DateStyle=ISO,YMD -c statement_timeout={self.statement_timeout_ms}"
        try:
            conn = psycopg.connect(
                make_conninfo(self.dsn, dbname=database, options=options, **credentials),
                autocommit=autocommit,
                prepare_threshold=None,  # DISCARD ALL drops server-side prepared statements
            )
        except psycopg.OperationalError as exc:
            if "does not exist" in str(exc) and "database" in str(exc):
                raise client_error(
                    operation, "DatabaseNotFoundException", f"Database {database} does not exist"
                ) from None
            if "authentication failed" in str(exc) or "does not exist" in str(exc):
                # The Data API reports a rejected login as a bad request carrying PostgreSQL's message.
                message = str(exc).strip().splitlines()[-1]
                raise client_error(operation, "BadRequestException", message) from None
            raise client_error(operation, "DatabaseUnavailableException", str(exc).strip()) from None
        conn.adapters.register_dumper(Varchar, VarcharDumper)
        conn.adapters.register_dumper(JsonText, JsonDumper)
        for type_name in ("json", "jsonb", "interval", "money", "inet", "cidr", "macaddr", "xml"):
            conn.adapters.register_loader(type_name, TextLoader)  # keep PostgreSQL's own text
        for type_name, loader in DATE_TIME_LOADERS.items():
            conn.adapters.register_loader(type_name, loader)
        return conn

    def _type_name(self, conn: psycopg.Connection, oid: int) -> str:
        # Built-in OIDs are the same everywhere; types created by migrations differ per database.
        key = (conn.info.dbname, oid)
        if key not in self._type_names:
            rows = conn.execute("SELECT oid::int, typname FROM pg_type").fetchall()
            self._type_names.update({(conn.info.dbname, o): name for o, name in rows})
        return self._type_names.get(key, "unknown")

    def _transaction(self, operation: str, transaction_id: str) -> _Transaction:
        with self._lock:
            txn = self._transactions.get(transaction_id)
        if txn is None:
            raise client_error(operation, "TransactionNotFoundException", f"Transaction {transaction_id} is not found")
        return txn

    def _end_transaction(self, operation: str, transaction_id: str) -> _Transaction:
        txn = self._transaction(operation, transaction_id)
        if not txn.lock.acquire(blocking=False):
            raise client_error(operation, "BadRequestException", "Transaction is still running a query")
        txn.lock.release()
        with self._lock:
            self._transactions.pop(transaction_id, None)
        return txn

    def _expire_idle_transactions(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [tid for tid, t in self._transactions.items() if now - t.last_used > self.transaction_idle_seconds]
            expired = [self._transactions.pop(tid) for tid in idle]
        for txn in expired:
            txn.connection.close()  # closing without commit rolls back, as the Data API does


def local_client(dsn: str, database: str = "alex", **kwargs: Any) -> DataApiClient:
    """A DataApiClient on a local PostgreSQL through LocalDataApi: the documented entry point for
    local use (the runtime layer never imports the engine; this developer layer wires the two)."""
    return DataApiClient(
        LocalDataApi(dsn),
        resource_arn="arn:aws:rds:local:000000000000:cluster:alex-local",
        secret_arn="arn:aws:secretsmanager:local:000000000000:secret:alex-local",
        database=database,
        **kwargs,
    )
