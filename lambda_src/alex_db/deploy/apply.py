"""Apply migrations: each in its own Data API transaction under one advisory lock, recorded in history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alex_db.client import DataApiClient
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
# First call of each migration's transaction: wait on the project's advisory lock, then claim the
# version. The claim is a new statement with a new snapshot, so a version that a concurrent runner
# committed while we waited conflicts and comes back empty (ON CONFLICT sees committed rows).
# It returns the transaction's id, which FINISH checks before the commit.
CLAIM = f"""
WITH lock AS (SELECT pg_advisory_xact_lock(:lock_key))
INSERT INTO schema_migrations (version, name, checksum, duration_ms)
SELECT :version, :name, :checksum, {IN_PROGRESS} FROM lock
ON CONFLICT (version) DO NOTHING
RETURNING version, txid_current()::text AS txid
""".strip()
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
    return [AppliedMigration(r["version"], r["name"], r["checksum"].strip()) for r in rows]


@dataclass(frozen=True)
class AppliedResult:
    version: int
    name: str
    statements: int
    duration_ms: int
    skipped: bool = False  # another runner applied it while this one waited for the lock


def apply(
    client: DataApiClient,
    migrations: Sequence[Migration],
    *,
    progress: Callable[[str], None] = print,
) -> list[AppliedResult]:
    """Apply each migration in its own transaction under the project's advisory lock."""
    results = []
    for migration in migrations:
        key = {"version": migration.version}
        with client.transaction() as tx:
            claimed = tx.query_one(CLAIM, {"lock_key": LOCK_KEY, **key, "name": migration.name,
                                           "checksum": migration.checksum})  # fmt: skip
            if claimed is None:  # a concurrent runner applied it while we waited for the lock
                other = (tx.query_one(APPLIED_CHECKSUM, key) or {}).get("checksum", "").strip()
                if other != migration.checksum:
                    raise ChecksumMismatch(migration.version, migration.filename, other, migration.checksum)
                result = AppliedResult(migration.version, migration.name, 0, 0, skipped=True)
            else:
                for index, statement in enumerate(migration.statements):
                    try:
                        tx.execute(statement)
                    except DataApiError as exc:
                        raise MigrationFailed(migration, index, exc) from exc
                finished = tx.query_one(FINISH, {**key, "txid": claimed["txid"]})
                if finished is None:
                    raise TransactionEscaped(migration)
                result = AppliedResult(
                    migration.version, migration.name, len(migration.statements), finished["duration_ms"]
                )
        progress(_progress_line(result))
        results.append(result)
    return results


def _progress_line(result: AppliedResult) -> str:
    if result.skipped:
        return f"  {result.version:04d} {result.name}: already applied by a concurrent run, skipped"
    return f"  {result.version:04d} {result.name}: {result.statements} statements in {result.duration_ms} ms"
