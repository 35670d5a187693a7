"""Apply a no-transaction migration (CREATE INDEX CONCURRENTLY, ...): run once, outlive one call, resume, repair.

PostgreSQL refuses these statements inside a transaction block, and on a big table they run far
longer than one Data API call (45 s). So, unlike an ordinary migration:

1. A claim transaction (under the project's advisory lock) records the version as RUNNING (a
   committed history row with duration_ms = -2) before the statement starts, so every other runner
   knows it is under way and never starts it a second time.
2. The statement is sent with `continueAfterTimeout` (AWS: "For DDL statements, we recommend
   continuing to run the statement after the call times out") and tagged with a comment naming the
   migration. When the call times out, the runner watches pg_stat_activity for the tag and reports
   pg_stat_progress_create_index's phase and blocks until the statement ends.
3. The version is recorded as applied only when its effect is there: the index exists and is valid
   (pg_index.indisvalid), or the dropped index is gone.
4. A later run that finds a RUNNING row resumes: it waits while the statement is still running (or
   was claimed moments ago), records it if it completed, and rebuilds an INVALID index a failed
   concurrent build left behind (DROP INDEX CONCURRENTLY, then the build again; PostgreSQL, "CREATE
   INDEX", Building Indexes Concurrently: "the recommended recovery method in such cases is to drop
   the index and try again").
5. Past the caller's deadline (a Lambda's remaining time) the runner stops waiting with
   MigrationStillRunning; the statement goes on in the database and the next run picks it up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alex_db.client import DataApiClient
from alex_db.deploy.plan import Migration
from alex_db.errors import ChecksumMismatch, DataApiError, MigrationFailed, MigrationStillRunning

RUNNING = -2  # duration_ms of a claimed no-transaction migration whose statement has not been recorded as done
# A claim this recent with no statement visible yet: its runner is between the claim and the start.
CLAIM_GRACE_SECONDS = 15.0
POLL_SECONDS = 5.0

READ_CLAIM = """
SELECT duration_ms, checksum, extract(epoch FROM clock_timestamp() - applied_at)::float8 AS age
FROM schema_migrations WHERE version = :version
""".strip()
INSERT_CLAIM = f"""
INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (:version, :name, :checksum, {RUNNING})
""".strip()
# Taking over a claim whose run is gone. The file may have been fixed since (a failed statement is
# never recorded as applied), so the claim takes this run's name and checksum too.
TAKE_OVER = f"""
UPDATE schema_migrations SET applied_at = now(), name = :name, checksum = :checksum
WHERE version = :version AND duration_ms = {RUNNING}
""".strip()
FINISH = f"""
UPDATE schema_migrations SET duration_ms = (extract(epoch FROM clock_timestamp() - applied_at) * 1000)::int
WHERE version = :version AND duration_ms = {RUNNING}
RETURNING duration_ms
""".strip()
# The tagged statement, if a backend is running it now; with its progress where PostgreSQL reports it
# (PostgreSQL, "Progress Reporting": pg_stat_progress_create_index).
ACTIVE = """
SELECT a.pid, extract(epoch FROM clock_timestamp() - a.query_start)::int AS seconds, p.phase,
       p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
FROM pg_stat_activity a LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
WHERE a.pid <> pg_backend_pid() AND a.state <> 'idle' AND starts_with(a.query, :tag)
ORDER BY a.query_start LIMIT 1
""".strip()
INDEX_STATE = """
SELECT i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = :name AND n.nspname = current_schema()
""".strip()
_CREATE_INDEX = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\"[^\"]+\"|[\w$]+)", re.I
)
_DROP_INDEX = re.compile(r"^\s*DROP\s+INDEX\s+CONCURRENTLY\s+(?:IF\s+EXISTS\s+)?(?P<name>\"[^\"]+\"|[\w$.]+)", re.I)


def tag(migration: Migration) -> str:
    """The comment every statement of this migration starts with: how pg_stat_activity finds it."""
    return f"/* alex-db migration {migration.version:04d} */ "


def _identifier(name: str) -> str:
    name = name.split(".")[-1]
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


@dataclass(frozen=True)
class Effect:
    """What the statement leaves behind, as the catalog says: 'done', 'absent' or 'invalid'."""

    kind: str  # create_index | drop_index | other
    index: str | None

    @classmethod
    def of(cls, statement: str) -> Effect:
        if match := _CREATE_INDEX.match(statement):
            return cls("create_index", _identifier(match["name"]))
        if match := _DROP_INDEX.match(statement):
            return cls("drop_index", _identifier(match["name"]))
        return cls("other", None)

    def state(self, client: DataApiClient) -> str:
        if self.kind == "other":
            return "absent"  # nothing to look at: run it (REINDEX, ALTER TYPE … ADD VALUE IF NOT EXISTS rerun safely)
        row = client.query_one(INDEX_STATE, {"name": self.index})
        if self.kind == "drop_index":
            return "done" if row is None else "absent"
        if row is None:
            return "absent"
        return "done" if row["valid"] else "invalid"


def apply_outside_transaction(
    client: DataApiClient,
    migration: Migration,
    *,
    claim_lock: Callable[[Any], None],
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    deadline: float,
) -> tuple[int, bool]:
    """Apply `migration` (one statement, outside any transaction); (duration_ms, skipped)."""
    statement = migration.statements[0]
    effect, key = Effect.of(statement), {"version": migration.version}
    while True:
        with client.transaction() as tx:
            claim_lock(tx)  # the project's advisory lock, polled (apply._claim)
            row = tx.query_one(READ_CLAIM, key)
            if row is not None and row["duration_ms"] != RUNNING:
                if row["checksum"].strip() != migration.checksum:
                    raise ChecksumMismatch(migration.version, migration.filename, row["checksum"], migration.checksum)
                return row["duration_ms"], True  # another run finished it meanwhile
            running = client.query_one(ACTIVE, {"tag": tag(migration)}) if row is not None else None
            if row is None:
                tx.execute(INSERT_CLAIM, {**key, "name": migration.name, "checksum": migration.checksum})
                action = "start"
            elif running is not None or row["age"] < CLAIM_GRACE_SECONDS:
                action = "wait"
            else:
                # the run that claimed it is gone: this one carries on
                tx.execute(TAKE_OVER, {**key, "name": migration.name, "checksum": migration.checksum})
                action = "resume"
        if action == "wait":
            _wait_while_running(client, migration, progress=progress, sleep=sleep, clock=clock, deadline=deadline)
            continue
        if action == "resume":
            state = effect.state(client)
            progress(f"  {migration.version:04d} {migration.name}: resuming a run that did not finish ({state})")
            if state == "done":  # its statement completed in an earlier (or a still-finishing) run: record it
                return _finish(client, migration), True
            if state == "invalid":  # a failed concurrent build: drop it, then build again
                progress(f"  {migration.version:04d} {migration.name}: dropping INVALID index {effect.index}")
                _send(client, migration, f'DROP INDEX CONCURRENTLY IF EXISTS "{effect.index}"', progress, sleep,
                      clock, deadline)  # fmt: skip
        _send(client, migration, statement, progress, sleep, clock, deadline)
        state = effect.state(client)
        if state != "done" and effect.kind != "other":
            raise MigrationFailed(
                migration, 0, DataApiError("IndexNotValid", f"the index is {state} after the statement ended "
                                           "(a failed concurrent build); the next run drops and rebuilds it"),
            )  # fmt: skip
        return _finish(client, migration), False


def _send(
    client: DataApiClient,
    migration: Migration,
    statement: str,
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    deadline: float,
) -> None:
    try:
        client.execute(tag(migration) + statement, continue_after_timeout=True)
    except DataApiError as exc:
        if exc.code != "StatementTimeoutException":
            raise MigrationFailed(migration, 0, exc) from exc
        progress(f"  {migration.version:04d} {migration.name}: the statement outlived its Data API call; it runs on "
                 "in the database (continueAfterTimeout), watching it")  # fmt: skip
        _wait_while_running(client, migration, progress=progress, sleep=sleep, clock=clock, deadline=deadline)


def _wait_while_running(
    client: DataApiClient,
    migration: Migration,
    *,
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    deadline: float,
) -> None:
    """Poll pg_stat_activity until the tagged statement ends; past `deadline`, MigrationStillRunning."""
    seen = False
    while (running := client.query_one(ACTIVE, {"tag": tag(migration)})) is not None:
        seen = True
        line = describe(migration, running)
        if clock() >= deadline:
            raise MigrationStillRunning(line)
        progress(f"  {line}")
        sleep(min(POLL_SECONDS, max(deadline - clock(), 0.05)))
    if seen:  # it just ended: give the run that started it a poll interval to record it first
        sleep(POLL_SECONDS)
    # Not running: either it ended, or the claimer has not started it yet (the claim grace).
    row = client.query_one(READ_CLAIM, {"version": migration.version})
    if row is not None and row["duration_ms"] == RUNNING and row["age"] < CLAIM_GRACE_SECONDS:
        sleep(min(POLL_SECONDS, CLAIM_GRACE_SECONDS - row["age"] + 0.1))


def describe(migration: Migration, running: dict[str, Any]) -> str:
    """One line: which migration, its statement, for how long, and its phase and blocks if reported."""
    statement = " ".join(migration.statements[0].split())[:70]
    line = f"{migration.version:04d} {migration.name}: running for {running['seconds']} s "
    line += f"(pid {running['pid']}: {statement})"
    if running.get("phase"):
        line += f"; phase {running['phase']}"
        if running.get("blocks_total"):
            line += f", blocks {running['blocks_done']}/{running['blocks_total']}"
        elif running.get("tuples_total"):
            line += f", tuples {running['tuples_done']}/{running['tuples_total']}"
    return line


def _finish(client: DataApiClient, migration: Migration) -> int:
    row = client.query_one(FINISH, {"version": migration.version}) or client.query_one(
        READ_CLAIM, {"version": migration.version}
    )  # recorded already by a run that resumed it: the same statement, once
    return row["duration_ms"] if row else 0
