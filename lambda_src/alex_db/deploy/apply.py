"""Apply migrations: each in its own Data API transaction under one advisory lock, recorded in history."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alex_db.client import DataApiClient
from alex_db.deploy.outside_transaction import apply_outside_transaction
from alex_db.deploy.plan import AppliedMigration, Migration
from alex_db.errors import (
    ChecksumMismatch,
    DataApiError,
    InterruptedMigration,
    MigrationFailed,
    TransactionEscaped,
)

# One fixed key for every runner of this project: pg_advisory_xact_lock serialises them.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"alex_db.schema_migrations").digest()[:8], "big", signed=True)

# One statement: the history table, then back from anyone default privileges handed it to (the app
# role's: the history is the deploy's, never the agents').
CREATE_HISTORY_TABLE = """
DO $history$
DECLARE grantee text;
BEGIN
    CREATE TABLE IF NOT EXISTS schema_migrations (
        version     INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        checksum    CHAR(64) NOT NULL,
        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
        duration_ms INTEGER NOT NULL
    );
    FOR grantee IN SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
                   WHERE g.table_schema = current_schema() AND g.table_name = 'schema_migrations'
                     AND g.grantee NOT IN (current_user, 'PUBLIC') LOOP
        EXECUTE format('REVOKE ALL ON schema_migrations FROM %I', grantee);
    END LOOP;
END
$history$
""".strip()
HISTORY_EXISTS = "SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present"
READ_HISTORY = "SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version"
# A claimed version's duration until FINISH records it. A committed row still marked so means a
# statement ended the migration's transaction halfway (COMMIT inside the file): never "applied".
IN_PROGRESS = -1
# First call of each migration's transaction, doing three things in one round trip: take the
# project's advisory lock without waiting in the call (pg_try_advisory_xact_lock, polled with
# backoff: a runner waiting for another never holds one Data API call past its 45 s limit); bound
# every later lock wait (lock_timeout: a migration queued behind a long agent transaction must not
# block every agent queued behind it); claim the version. `locked` false: another runner holds the
# lock and nothing else happened. `txid` null: the version is applied already - ON CONFLICT sees
# rows committed after this statement's snapshot, so a version another runner committed just
# before we got the lock conflicts. The txid is what FINISH checks before the commit.
CLAIM = f"""
WITH lock AS (SELECT pg_try_advisory_xact_lock(:lock_key) AS locked),
timeout AS (SELECT set_config('lock_timeout', :timeout, true) AS lock_timeout FROM lock WHERE locked),
claim AS (
    INSERT INTO schema_migrations (version, name, checksum, duration_ms)
    SELECT :version, :name, :checksum, {IN_PROGRESS} FROM timeout
    ON CONFLICT (version) DO NOTHING
    RETURNING version, txid_current()::text AS txid
)
SELECT lock.locked, claim.txid FROM lock LEFT JOIN claim ON true
""".strip()
LOCK_ONLY = "SELECT pg_try_advisory_xact_lock(:lock_key) AS locked"  # a no-transaction migration's claim
DEFAULT_WAIT_SECONDS = 3600.0  # how long a run waits for a no-transaction statement (CloudFormation's limit)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired
# The sessions most likely to hold the lock a statement waited for: the oldest open transactions.
LOCK_HOLDERS = r"""
SELECT pid, usename AS login, state, (extract(epoch FROM clock_timestamp() - xact_start))::int AS seconds,
       left(regexp_replace(query, '\s+', ' ', 'g'), 80) AS query
FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND xact_start IS NOT NULL AND datname = current_database()
ORDER BY xact_start LIMIT 3
""".strip()


@dataclass(frozen=True)
class LockPolicy:
    """How long a migration may wait for a table lock, how often it retries, how long for another runner."""

    lock_timeout_seconds: float = 5.0
    attempts: int = 5
    runner_wait_seconds: float = 240.0  # the init Lambda has 5 minutes
    first_delay: float = 0.5
    max_delay: float = 10.0


APPLIED_CHECKSUM = "SELECT checksum FROM schema_migrations WHERE version = :version"
# Last call before commit: now() is the transaction's start, so the database measures the duration.
# It matches only in the transaction that claimed the version: if a statement ended that transaction
# (COMMIT/ROLLBACK slipped into the file), the statements after it ran in another one, and this
# updates nothing - a hard error, and the version is not recorded as applied.
FINISH = f"""
UPDATE schema_migrations
SET duration_ms = (EXTRACT(EPOCH FROM clock_timestamp() - now()) * 1000)::int
WHERE version = :version AND duration_ms = {IN_PROGRESS} AND txid_current()::text = :txid
RETURNING duration_ms
""".strip()


def read_applied(client: DataApiClient) -> list[AppliedMigration]:
    """The history table's rows; creates the table on a fresh database."""
    try:
        rows = client.query(READ_HISTORY)
    except DataApiError as exc:
        # undefined_table: a fresh database (the Data API puts the SQLState at the message's end)
        if "42P01" not in exc.message and 'relation "schema_migrations" does not exist' not in exc.message:
            raise
        try:
            client.execute(CREATE_HISTORY_TABLE)
        except DataApiError:
            # Concurrent `CREATE TABLE IF NOT EXISTS` can still collide (23505, 42P07 or 42710 on
            # its row type); what matters is whether the table exists now, not which error it was.
            if not client.query_one(HISTORY_EXISTS)["present"]:
                raise
        return []
    interrupted = [r for r in rows if r["duration_ms"] == IN_PROGRESS]
    if interrupted:
        raise InterruptedMigration([f"{r['version']:04d}_{r['name']}" for r in interrupted])
    # A RUNNING row is a no-transaction migration under way (or cut off): pending, and resumed by
    # apply_outside_transaction, never run twice.
    return [AppliedMigration(r["version"], r["name"], r["checksum"].strip()) for r in rows if r["duration_ms"] >= 0]


@dataclass(frozen=True)
class AppliedResult:
    version: int
    name: str
    statements: int
    duration_ms: int
    skipped: bool = False  # another runner applied it while this one waited for the lock


class LockTimeout(Exception):
    """A statement of a migration waited longer than lock_timeout; the transaction rolled back."""

    def __init__(self, index: int, error: DataApiError) -> None:
        super().__init__(error.message)
        self.index, self.error = index, error


def apply(
    client: DataApiClient,
    migrations: Sequence[Migration],
    *,
    progress: Callable[[str], None] = print,
    locks: LockPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
) -> list[AppliedResult]:
    """Apply each migration in its own transaction under the project's advisory lock.

    A no-transaction migration runs outside one (alex_db.deploy.outside_transaction); `deadline` (a
    `clock()` value, default an hour from now) is when this run stops waiting for its statement.
    """
    locks = locks or LockPolicy()
    deadline = clock() + DEFAULT_WAIT_SECONDS if deadline is None else deadline
    results = []
    for migration in migrations:
        if migration.non_transactional:
            lock = {"lock_key": LOCK_KEY}
            duration, skipped = apply_outside_transaction(
                client, migration, progress=progress, sleep=sleep, clock=clock, deadline=deadline,
                claim_lock=lambda tx, lock=lock: _claim(tx, lock, locks, progress=progress, sleep=sleep, clock=clock,
                                                        statement=LOCK_ONLY),
            )  # fmt: skip
            result = AppliedResult(migration.version, migration.name, 0 if skipped else 1, duration, skipped)
            progress(_progress_line(result))
            results.append(result)
            continue
        delay = locks.first_delay
        for attempt in range(1, locks.attempts + 1):
            try:
                result = _apply_one(client, migration, locks, progress=progress, sleep=sleep, clock=clock)
                break
            except LockTimeout as timeout:
                if attempt == locks.attempts:
                    raise MigrationFailed(migration, timeout.index, timeout.error) from None
                statement = " ".join(migration.statements[timeout.index].split())[:80]
                holders = (
                    "; ".join(
                        f"pid {h['pid']} ({h['login']}, {h['state']}, open {h['seconds']} s: {h['query']})"
                        for h in client.query(LOCK_HOLDERS)
                    )
                    or "none now"
                )
                progress(f"  {migration.version:04d} {migration.name}: statement {timeout.index + 1} ({statement}) "
                         f"waited {locks.lock_timeout_seconds:g} s for a lock (lock_timeout) and was rolled back; "
                         f"open transactions: {holders}; retrying in {delay:g} s "
                         f"(attempt {attempt + 1}/{locks.attempts})")  # fmt: skip
                sleep(delay)
                delay = min(delay * 2, locks.max_delay)
        progress(_progress_line(result))
        results.append(result)
    return results


def _apply_one(
    client: DataApiClient,
    migration: Migration,
    locks: LockPolicy,
    *,
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> AppliedResult:
    key = {"version": migration.version}
    claim = {**key, "lock_key": LOCK_KEY, "name": migration.name, "checksum": migration.checksum,
             "timeout": f"{int(locks.lock_timeout_seconds * 1000)}ms"}  # fmt: skip
    with client.transaction() as tx:
        claimed = _claim(tx, claim, locks, progress=progress, sleep=sleep, clock=clock)
        if claimed["txid"] is None:  # a concurrent runner applied it while we waited for the lock
            other = (tx.query_one(APPLIED_CHECKSUM, key) or {}).get("checksum", "").strip()
            if other != migration.checksum:
                raise ChecksumMismatch(migration.version, migration.filename, other, migration.checksum)
            return AppliedResult(migration.version, migration.name, 0, 0, skipped=True)
        for index, statement in enumerate(migration.statements):
            try:
                tx.execute(statement)
            except DataApiError as exc:
                if LOCK_NOT_AVAILABLE in exc.message:
                    raise LockTimeout(index, exc) from exc
                raise MigrationFailed(migration, index, exc) from exc
        finished = tx.query_one(FINISH, {**key, "txid": claimed["txid"]})
        if finished is None:
            raise TransactionEscaped(migration)
        return AppliedResult(migration.version, migration.name, len(migration.statements), finished["duration_ms"])


def _claim(
    tx: object, claim: dict, locks: LockPolicy, *, progress: Callable[[str], None], sleep: Callable[[float], None],
    clock: Callable[[], float], statement: str = CLAIM,
) -> dict:  # fmt: skip
    """The project's advisory lock, polled: each call returns at once, whatever the other runner does."""
    started, delay, said = clock(), locks.first_delay, False
    while not (claimed := tx.query_one(statement, claim))["locked"]:  # type: ignore[attr-defined]
        waited = clock() - started
        if waited >= locks.runner_wait_seconds:
            raise DataApiError(
                "MigrationLockBusy",
                f"another run has held the migration lock for {waited:.0f} s (more than "
                f"{locks.runner_wait_seconds:g} s): deploy again when it has finished",
                operation="apply",
            )
        if not said or (waited >= 30 and int(waited) % 30 < delay):
            progress(f"  another run holds the migration lock; waiting (waited {waited:.0f} s so far)")
            said = True
        sleep(delay)
        delay = min(delay * 2, locks.max_delay)
    return claimed


def _progress_line(result: AppliedResult) -> str:
    if result.skipped:
        return f"  {result.version:04d} {result.name}: already applied by a concurrent run, skipped"
    return f"  {result.version:04d} {result.name}: {result.statements} statements in {result.duration_ms} ms"
