"""DataApiClient: query/execute/batch/transaction over an rds-data client, with resume retries.

Needs only the standard library and boto3 (the Lambda runtime), so the init Lambda can import it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from alex_db.codec import decode_records, to_parameters
from alex_db.column_catalog import ColumnCatalog
from alex_db.connection import (
    ENV_CLUSTER_ARN,
    ENV_DATABASE,
    ENV_SECRET_ARN,
    boto3_rds_data_client,
    env_settings,
    stack_outputs,
)
from alex_db.errors import ConfigurationError, DataApiError, DatabaseNotReadyError, ParameterError, ResultValueError
from alex_db.limits import CLIENT_HEADER_MARGIN_BYTES, MAX_REQUEST_BYTES, request_body_bytes
from alex_db.table_writes import TableWrites

log = logging.getLogger("alex_db")
# A mapping of Python values, or Data API SqlParameter dicts passed through as given.
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None

# Errors that mean "not yet", never "no", and that AWS answers before the statement reaches the
# database - so a retry cannot run it twice (botocore's own retries are off: connection.py).
# Never retried: timeouts, 5xx without a code, dropped connections (the statement may have run).
RETRYABLE_CODES = frozenset(
    {
        "DatabaseResumingException",  # auto-paused cluster waking up (~15-30 s); nothing was sent to it
        "DatabaseUnavailableException",  # no connection to the writer could be opened
        "ThrottlingException",  # the request was refused at the API, before any database work
        "TooManyRequestsException",
        "ServiceUnavailableError",
    }
)
# Right after CloudFormation creates the cluster these say "not yet" too: the HTTP endpoint is still
# being enabled, the new secret not yet readable, the initial database not yet created. Only the
# init function waits for them; for an agent they are configuration errors worth failing fast.
# InvalidResourceStateException ("The resource is in an invalid state", botocore's rds-data model):
# a cluster or writer still modifying right after its creation or a capacity change.
AFTER_CREATE_CODES = frozenset(
    {
        "HttpEndpointNotEnabledException",
        "SecretsErrorException",
        "DatabaseNotFoundException",
        "InvalidResourceStateException",
    }
)
MAX_BODY_BYTES = MAX_REQUEST_BYTES - CLIENT_HEADER_MARGIN_BYTES  # what the client sends at most
# While RDS rotates the master password, a caller may briefly read the previous one from the
# secret: a failed login is retried a few times, never indefinitely (a wrong secret stays wrong).
ROTATION_MARKER = "password authentication failed"
ROTATION_ATTEMPTS = 3


def is_retryable(code: str, message: str, attempt: int, also: frozenset[str] = frozenset()) -> bool:
    if code in RETRYABLE_CODES or code in also:
        return True
    return ROTATION_MARKER in message and attempt < ROTATION_ATTEMPTS


@dataclass
class Result:
    """Rows (dicts keyed by column name, decoded by column type) and the number of rows changed."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rowcount: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class RetryPolicy:
    """Capped exponential backoff inside a total time budget (FACTS: resume takes 15-30 s)."""

    budget_seconds: float = 60.0
    initial_delay: float = 0.5
    max_delay: float = 8.0
    also_retry: frozenset[str] = frozenset()  # codes retried beyond RETRYABLE_CODES (AFTER_CREATE_CODES)

    def delays(self) -> Iterator[float]:
        delay = self.initial_delay
        while True:
            yield delay
            delay = min(delay * 2, self.max_delay)


class DataApiClient(TableWrites):
    """Talks to one database through an rds-data client (boto3's in AWS, LocalDataApi locally)."""

    def __init__(
        self,
        api: Any,
        *,
        resource_arn: str,
        secret_arn: str,
        database: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = [
            n for n, v in (("resource_arn", resource_arn), ("secret_arn", secret_arn), ("database", database)) if not v
        ]
        if missing:
            raise ConfigurationError(f"DataApiClient needs {', '.join(missing)}")
        self.api, self.resource_arn, self.secret_arn, self.database = api, resource_arn, secret_arn, database
        self.retry = retry or RetryPolicy()
        self._sleep, self._clock = sleep, clock
        self._catalog = ColumnCatalog(self.query)

    # -- construction

    @classmethod
    def from_env(cls, api: Any | None = None, environ: Mapping[str, str] | None = None, **kwargs: Any) -> DataApiClient:
        """From AURORA_CLUSTER_ARN, AURORA_SECRET_ARN and AURORA_DATABASE (default 'alex')."""
        settings = env_settings(environ)
        return cls(api if api is not None else boto3_rds_data_client(), **settings, **kwargs)

    @classmethod
    def connect(
        cls,
        cluster_arn: str | None = None,
        secret_arn: str | None = None,
        database: str | None = None,
        region: str | None = None,
        *,
        api: Any | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> DataApiClient:
        """Explicit values first, then AURORA_CLUSTER_ARN/AURORA_SECRET_ARN/AURORA_DATABASE and the region variables."""
        env = dict(os.environ if environ is None else environ)
        given = {ENV_CLUSTER_ARN: cluster_arn, ENV_SECRET_ARN: secret_arn, ENV_DATABASE: database}
        env.update({name: value for name, value in given.items() if value})
        settings = env_settings(env)
        return cls(api if api is not None else boto3_rds_data_client(region), **settings, **kwargs)

    @classmethod
    def from_stack(
        cls, stack_name: str, *, cloudformation: Any | None = None, api: Any | None = None, **kwargs: Any
    ) -> DataApiClient:
        """From the ClusterArn/SecretArn/DatabaseName outputs of a deployed AlexDatabase stack."""
        return cls(
            api if api is not None else boto3_rds_data_client(),
            **stack_outputs(stack_name, cloudformation=cloudformation),
            **kwargs,
        )

    def with_secret(self, secret_arn: str) -> DataApiClient:
        """The same cluster, database, retry policy and clock, logging in with another secret."""
        return DataApiClient(
            self.api,
            resource_arn=self.resource_arn,
            secret_arn=secret_arn,
            database=self.database,
            retry=self.retry,
            sleep=self._sleep,
            clock=self._clock,
        )

    def _envelope(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"resourceArn": self.resource_arn, "secretArn": self.secret_arn, "database": self.database, **request}

    def _check_request_size(self, request: dict[str, Any]) -> None:
        """Refuse before sending what the Data API could refuse (4 MiB with headers), naming the largest parameter."""
        size = request_body_bytes(self._envelope(request))
        if size > MAX_BODY_BYTES:
            largest = max(request["parameters"], key=request_body_bytes)
            raise ParameterError(
                f"the request is {size:,} bytes of JSON; the Data API accepts {MAX_REQUEST_BYTES:,} bytes per "
                f"request including its HTTP headers, of which this client keeps {CLIENT_HEADER_MARGIN_BYTES:,} "
                f"for the headers (parameter :{largest['name']} alone is {request_body_bytes(largest):,} bytes): "
                "store documents that large elsewhere (e.g. S3) and keep a reference in the database"
            )

    # -- statements

    def execute(
        self,
        sql: str,
        params: Params = None,
        *,
        transaction_id: str | None = None,
        continue_after_timeout: bool = False,
    ) -> Result:
        """One statement. continue_after_timeout: a DDL statement keeps running when the call times out."""
        request: dict[str, Any] = {"sql": sql, "includeResultMetadata": True}
        if continue_after_timeout:
            request["continueAfterTimeout"] = True
        if params:
            request["parameters"] = to_parameters(params)
        if transaction_id:
            request["transactionId"] = transaction_id
        if params:
            self._check_request_size(request)
        response = self._call("execute_statement", **request)
        try:
            rows = decode_records(response.get("records") or [], response.get("columnMetadata") or [])
        except ValueError as exc:
            raise ResultValueError("UnsupportedResultValue", str(exc), operation="ExecuteStatement", sql=sql) from None
        return Result(rows=rows, rowcount=response.get("numberOfRecordsUpdated", 0))

    def query(self, sql: str, params: Params = None, **kwargs: Any) -> list[dict[str, Any]]:
        return self.execute(sql, params, **kwargs).rows

    def query_one(self, sql: str, params: Params = None, **kwargs: Any) -> dict[str, Any] | None:
        rows = self.execute(sql, params, **kwargs).rows
        if len(rows) > 1:
            raise DataApiError(
                "TooManyRows", f"expected at most one row, got {len(rows)}", operation="query_one", sql=sql
            )
        return rows[0] if rows else None

    def batch(self, sql: str, param_sets: Sequence[Mapping[str, Any]], *, transaction_id: str | None = None) -> int:
        """Run `sql` once per parameter set with BatchExecuteStatement, in as few calls as the 4 MiB limit allows."""
        encoded = [to_parameters(p) for p in param_sets]  # every value checked before the first call
        ran = 0
        envelope = self._envelope({"sql": sql, **({"transactionId": transaction_id} if transaction_id else {})})
        for chunk in _chunks(envelope, encoded):
            request: dict[str, Any] = {"sql": sql, "parameterSets": chunk}
            if transaction_id:
                request["transactionId"] = transaction_id
            response = self._call("batch_execute_statement", **request)
            ran += len(response.get("updateResults", chunk))
        return ran

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Commit when the block succeeds; roll back on any exception (and re-raise it)."""
        transaction_id = self._call("begin_transaction")["transactionId"]
        tx = Transaction(self, transaction_id)
        try:
            yield tx
        except BaseException:
            try:
                self._call("rollback_transaction", transactionId=transaction_id)
            except DataApiError as rollback_error:
                # The original error matters more; the Data API discards the transaction anyway.
                log.warning("rollback of transaction failed: %s", rollback_error)
            raise
        self._call("commit_transaction", transactionId=transaction_id)

    # -- the one place that talks to the API

    def _call(self, method: str, **request: Any) -> dict[str, Any]:
        sql = request.get("sql")
        request = {"resourceArn": self.resource_arn, "secretArn": self.secret_arn, **request}
        if method != "commit_transaction" and method != "rollback_transaction":
            request["database"] = self.database
        operation = "".join(p.title() for p in method.split("_"))
        started = self._clock()
        delays = self.retry.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return getattr(self.api, method)(**request)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "Unknown")
                message = exc.response.get("Error", {}).get("Message", str(exc))
                if not is_retryable(code, message, attempt, self.retry.also_retry):
                    raise DataApiError(code, message, operation=operation, sql=sql) from exc
                elapsed = self._clock() - started
                delay = next(delays)
                if elapsed + delay > self.retry.budget_seconds:
                    raise DatabaseNotReadyError(
                        code,
                        f"{message} (still failing after {attempt} attempts in {elapsed:.1f} s; "
                        f"retry budget {self.retry.budget_seconds:.0f} s)",
                        operation=operation,
                        sql=sql,
                    ) from exc
                log.warning(
                    "%s: %s; retrying in %.1f s (attempt %d, %.1f of %.0f s budget)",
                    operation, code, delay, attempt, elapsed, self.retry.budget_seconds,
                )  # fmt: skip
                self._sleep(delay)


class Transaction(TableWrites):
    """Statements bound to one Data API transaction id; one call at a time, as the Data API requires."""

    def __init__(self, client: DataApiClient, transaction_id: str) -> None:
        self.client, self.id = client, transaction_id
        self._lock = threading.Lock()
        self._catalog = client._catalog.reading_with(self.query)  # sees tables this transaction created

    def execute(self, sql: str, params: Params = None) -> Result:
        with self._lock:
            return self.client.execute(sql, params, transaction_id=self.id)

    def query(self, sql: str, params: Params = None) -> list[dict[str, Any]]:
        return self.execute(sql, params).rows

    def query_one(self, sql: str, params: Params = None) -> dict[str, Any] | None:
        with self._lock:
            return self.client.query_one(sql, params, transaction_id=self.id)

    def batch(self, sql: str, param_sets: Sequence[Mapping[str, Any]]) -> int:
        with self._lock:
            return self.client.batch(sql, param_sets, transaction_id=self.id)


def _chunks(envelope: dict[str, Any], encoded: list[list[dict[str, Any]]]) -> Iterator[list[list[dict[str, Any]]]]:
    """Parameter sets in chunks whose whole request body (envelope + sets) stays within MAX_BODY_BYTES."""
    budget = MAX_BODY_BYTES - request_body_bytes({**envelope, "parameterSets": []})
    chunk: list[list[dict[str, Any]]] = []
    size = 0
    for index, parameter_set in enumerate(encoded):
        set_size = request_body_bytes(parameter_set) + 2  # ", " between sets
        if set_size > budget:
            raise ParameterError(
                f"parameter set {index} alone is {set_size:,} bytes of JSON; a request may carry "
                f"{budget:,} (the Data API accepts {MAX_REQUEST_BYTES:,} bytes with headers)"
            )
        if chunk and size + set_size > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(parameter_set)
        size += set_size
    if chunk:
        yield chunk
