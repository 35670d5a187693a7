"""`alex-db probe`: each Data API behaviour this project relies on but cannot test offline, run against a target.

Every probe states what LocalDataApi does (the expectation the tests are built on) and records
what the target did. A row whose expectation an AWS page documents is *confirmed*: a difference is a
FAIL (and a non-zero exit, which fails the deploy workflow). A row whose expectation is our best
guess (an error code AWS does not document, a timing) is *unconfirmed*: a difference is INFO, to be
recorded in docs/aws-facts.md and the local engine, never a failed deploy. Read-only except for
one scratch table it creates and drops. Against `--local` every row must pass: the probe itself is
tested that way.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from alex_db.client import DataApiClient
from alex_db.errors import DataApiError
from alex_db.limits import MAX_REQUEST_BYTES, MAX_ROW_BYTES, MAX_SQL_CHARS, TRANSACTION_IDLE_SECONDS

SCRATCH_PREFIX = "alex_probe_"
RESUME_BUDGET_SECONDS = 30  # FACTS: a paused cluster resumes in ~15-30 s


@dataclass
class Observation:
    behaviour: str
    expected: str
    observed: str
    verdict: str  # PASS, FAIL (confirmed expectation), INFO (unconfirmed expectation) or SKIP
    confirmed: bool = True


def verdict(observed: str, expected: str, confirmed: bool) -> str:
    if observed == expected:
        return "PASS"
    return "FAIL" if confirmed else "INFO"


def _outcome(call: Callable[[], Any]) -> str:
    """'accepted' or 'refused: <code>' for one Data API call."""
    try:
        call()
        return "accepted"
    except ClientError as exc:
        return f"refused: {exc.response.get('Error', {}).get('Code', '?')}"
    except DataApiError as exc:
        return f"refused: {exc.code}"


class Probe:
    """Runs the probes on one target through its rds-data client (`client.api`) and the alex_db client."""

    def __init__(
        self,
        client: DataApiClient,
        *,
        idle_seconds: float = TRANSACTION_IDLE_SECONDS,
        slow: bool = False,
        app_client: DataApiClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        app_role: str = "alex_app",
    ) -> None:
        self.app_role = app_role
        self.client, self.api, self.app_client = client, client.api, app_client
        self.idle_seconds, self.slow, self.sleep = idle_seconds, slow, sleep
        self.scratch = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:8]}"
        self.leftovers: list[str] = []

    def _raw(self, sql: str, parameters: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        request = {
            "resourceArn": self.client.resource_arn,
            "secretArn": self.client.secret_arn,
            "database": self.client.database,
            "sql": sql,
            **extra,
        }
        if parameters is not None:
            request["parameters"] = parameters
        return self.api.execute_statement(**request)

    def _check(self, behaviour: str, expected: str, call: Callable[[], Any], *, confirmed: bool) -> Observation:
        observed = _outcome(call)
        return Observation(behaviour, expected, observed, verdict(observed, expected, confirmed), confirmed)

    def remove_leftovers(self) -> list[str]:
        """Drop scratch tables an earlier run could not (its server died mid-run): ours by name prefix."""
        rows = self.client.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE :prefix",
            {"prefix": SCRATCH_PREFIX.replace("_", "\\_") + "%"},
        )
        names = [row["tablename"] for row in rows]
        for name in names:
            self.client.execute(f'DROP TABLE IF EXISTS "{name}"')
        return names

    def run(self) -> list[Observation]:
        observations = [self.resume_time()]
        self.leftovers = self.remove_leftovers()
        self.client.execute(f"CREATE TABLE {self.scratch} (id int, note text)")
        try:
            observations += [
                # Documented: "YYYY-MM-DD HH:MM:SS[.FFF]" (RDS Data API reference, SqlParameter typeHint).
                self.timestamp_digits(3, "accepted", confirmed=True),
                # Whether 6 digits are refused, and with which code, no AWS page says.
                self.timestamp_digits(6, "refused: BadRequestException", confirmed=False),
                # The 64 KB row and 1 MiB response limits are documented (Aurora User Guide, "Data API
                # limitations"); the error codes are not, and BadRequestException is deprecated in
                # botocore's model: unconfirmed.
                self._check("result row of 64 KB", "accepted", lambda: self._repeat(MAX_ROW_BYTES - 2), confirmed=True),
                self._check(
                    "result row over 64 KB",
                    "refused: UnsupportedResultException",
                    lambda: self._repeat(MAX_ROW_BYTES + 1024),
                    confirmed=False,
                ),
                self._check(
                    "response over 1 MiB (17 rows of 65,000)",
                    "refused: BadRequestException",
                    lambda: self._raw("SELECT repeat('x', 65000) FROM generate_series(1, 17)"),
                    confirmed=False,
                ),
                self._check(
                    f"sql of {MAX_SQL_CHARS + 1:,} characters",
                    "refused: ValidationException",
                    lambda: self._raw("SELECT 1" + " " * (MAX_SQL_CHARS - 7)),
                    confirmed=False,  # the limit is botocore's model (max 65536); the code is a guess
                ),
                self._check(
                    "request over 4 MiB",
                    "refused: ValidationException",
                    lambda: self._raw(
                        "SELECT length(:p) AS n", [{"name": "p", "value": {"stringValue": "x" * MAX_REQUEST_BYTES}}]
                    ),
                    confirmed=False,
                ),
                self._check(
                    "NUL in a text parameter",
                    "refused: DatabaseErrorException",
                    lambda: self._raw(
                        f"INSERT INTO {self.scratch} (id, note) VALUES (1, :n)",
                        [{"name": "n", "value": {"stringValue": "a\x00b"}}],
                    ),
                    confirmed=False,
                ),
                self._check(
                    "syntax error", "refused: DatabaseErrorException", lambda: self._raw("SELEC 1"), confirmed=False
                ),
                self._check(
                    "two statements in one call",
                    "refused: ValidationException",
                    lambda: self._raw("SELECT 1; SELECT 2"),
                    confirmed=False,
                ),
                self.managed_secret(),
                self.snapshot_transaction(),
                self.role_settings(),
                self.transaction_expiry(),
            ]
            if self.app_client is not None:
                observations += [self.app_secret(), self.app_password_change()]
        finally:
            self.client.execute(f"DROP TABLE IF EXISTS {self.scratch}")
        return observations

    def _repeat(self, length: int) -> Any:
        return self._raw("SELECT repeat('x', :n) AS v", [{"name": "n", "value": {"longValue": length}}])

    def timestamp_digits(self, digits: int, expected: str, *, confirmed: bool) -> Observation:
        value = "2024-05-01 12:00:00." + "123456"[:digits]
        parameter = [{"name": "t", "value": {"stringValue": value}, "typeHint": "TIMESTAMP"}]
        return self._check(
            f"TIMESTAMP typeHint with {digits} fractional digits",
            expected,
            lambda: self._raw("SELECT CAST(:t AS timestamp) AS t", parameter),
            confirmed=confirmed,
        )

    def resume_time(self) -> Observation:
        started = time.monotonic()
        try:
            self.client.query_one("SELECT 1 AS ok")
        except DataApiError as exc:
            return Observation(
                "first call (resume from pause)",
                f"answers within {RESUME_BUDGET_SECONDS} s",
                f"failed: {exc.code}",
                "FAIL",
            )
        elapsed = time.monotonic() - started
        # A timing AWS gives only as "about 15 s, longer after a long pause": informational.
        return Observation(
            "first call (resume from pause)",
            f"answers within {RESUME_BUDGET_SECONDS} s",
            f"answered in {elapsed:.1f} s",
            "PASS" if elapsed <= RESUME_BUDGET_SECONDS else "INFO",
            confirmed=False,
        )

    def snapshot_transaction(self) -> Observation:
        """List reads of several calls rely on SET TRANSACTION as a Data API transaction's first statement."""
        from alex_db.wide_rows import SNAPSHOT

        def run() -> None:
            with self.client.transaction() as tx:
                tx.execute(SNAPSHOT)
                tx.query("SELECT 1 AS ok")

        return self._check("REPEATABLE READ as a transaction's first statement", "accepted", run, confirmed=False)

    def role_settings(self) -> Observation:
        from alex_db.devtools.verify import role_setting_drift

        drifts = role_setting_drift(self.client, self.app_role)
        observed = "; ".join(d.message for d in drifts) or "none"
        return Observation("app roles carry no role-level settings", "none", observed,
                           "PASS" if not drifts else "FAIL")  # fmt: skip

    def app_password_change(self) -> Observation:
        """The app role may not change its password (rds.restrict_password_commands): tried inside a
        transaction that is always rolled back, so even a target without the parameter keeps the password."""
        assert self.app_client is not None
        api, client = self.app_client.api, self.app_client
        ids = {"resourceArn": client.resource_arn, "secretArn": client.secret_arn}
        transaction = api.begin_transaction(**ids, database=client.database)["transactionId"]
        try:
            observed = _outcome(lambda: api.execute_statement(
                **ids, database=client.database, transactionId=transaction,
                sql="ALTER ROLE CURRENT_USER PASSWORD 'probe-never-committed'",
            ))  # fmt: skip
        finally:
            api.rollback_transaction(**ids, transactionId=transaction)
        expected = "refused: DatabaseErrorException"
        hint = " (reboot the writer once: the parameter is static)" if observed == "accepted" else ""
        return Observation("app role cannot change its own password", expected, observed + hint,
                           "PASS" if observed == expected else "FAIL")  # fmt: skip

    def managed_secret(self) -> Observation:
        outcome = _outcome(lambda: self.client.query_one("SELECT current_user AS me"))
        return Observation(
            "Data API with the admin secret", "accepted", outcome, "PASS" if outcome == "accepted" else "FAIL"
        )

    def app_secret(self) -> Observation:
        assert self.app_client is not None
        try:
            self.app_client.execute(f"DROP TABLE {self.scratch}")
            observed = "accepted"
        except DataApiError as exc:
            observed = "refused: permission denied" if "42501" in exc.message or "owner" in exc.message else exc.code
        return Observation(
            "app secret cannot DROP",
            "refused: permission denied",
            observed,
            "PASS" if observed == "refused: permission denied" else "FAIL",
        )

    def transaction_expiry(self) -> Observation:
        behaviour = f"transaction unused for {self.idle_seconds:.0f} s expires"
        if self.idle_seconds > 10 and not self.slow:
            return Observation(
                behaviour, "refused: TransactionNotFoundException", "not run (pass --slow)", "SKIP", confirmed=False
            )
        ids = {"resourceArn": self.client.resource_arn, "secretArn": self.client.secret_arn}
        transaction = self.api.begin_transaction(**ids, database=self.client.database)["transactionId"]
        self.sleep(self.idle_seconds + 5 if self.idle_seconds > 10 else self.idle_seconds * 1.5)
        # Documented: a transaction unused for 3 minutes is rolled back; the error code is not.
        return self._check(
            behaviour,
            "refused: TransactionNotFoundException",
            lambda: self._raw("SELECT 1", transactionId=transaction),
            confirmed=False,
        )


def render(observations: list[Observation]) -> str:
    headers = ("behaviour", "expected", "confirmed", "observed", "verdict")
    rows = [
        headers,
        *[(o.behaviour, o.expected, "yes" if o.confirmed else "no", o.observed, o.verdict) for o in observations],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def as_json(target: str, observations: list[Observation]) -> str:
    return json.dumps({"target": target, "observations": [asdict(o) for o in observations]}, indent=2)
