"""Migrations under load on real PostgreSQL: a bounded wait for table locks, retried and reported, and a
runner that waits for another without ever holding one Data API call past the (scaled) call limit."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from alex_db.deploy.apply import LOCK_KEY, LockPolicy, apply, read_applied
from alex_db.deploy.plan import Migration
from alex_db.devtools.local_engine import LocalDataApi
from alex_db.errors import MigrationFailed
from tests.conftest import make_client


def migration(version: int, *statements: str) -> Migration:
    return Migration(version, "locks", f"{version:04d}_locks.sql", f"{version:064d}", statements,
                     tuple(range(1, 1 + len(statements))))  # fmt: skip


@pytest.fixture
def engine(pg_server, database):
    # A 1 s call limit stands in for the Data API's 45 s: a call waiting longer fails, as on AWS.
    engine = LocalDataApi(pg_server.dsn(database), statement_timeout_seconds=1)
    yield engine
    engine.close()


def holding(dsn: str, sql: str, seconds: float) -> threading.Thread:
    """Another session runs `sql` in a transaction and keeps it open for `seconds` (an agent, a runner)."""
    ready = threading.Event()

    def run():
        with psycopg.connect(dsn) as conn:
            conn.execute(sql)
            ready.set()
            time.sleep(seconds)
            conn.rollback()

    thread = threading.Thread(target=run)
    thread.start()
    ready.wait(5)
    return thread


def test_a_lock_timeout_is_retried_and_says_what_waited(engine, database, pg_server):
    client = make_client(engine, database)
    read_applied(client)
    client.execute("CREATE TABLE reports (id int)")
    lines: list[str] = []
    agent = holding(pg_server.dsn(database), "SELECT * FROM reports", seconds=1.5)  # a long agent transaction
    try:
        locks = LockPolicy(lock_timeout_seconds=0.2, attempts=10, first_delay=0.3)
        (result,) = apply(client, [migration(1, "ALTER TABLE reports ADD COLUMN total numeric")], progress=lines.append,
                          locks=locks, sleep=time.sleep)  # fmt: skip
    finally:
        agent.join()
    retries = [line for line in lines if "lock_timeout" in line]
    assert retries, lines
    assert "statement 1 (ALTER TABLE reports ADD COLUMN total numeric) waited 0.2 s for a lock" in retries[0]
    assert "open transactions: pid" in retries[0] and "SELECT * FROM reports" in retries[0]  # who held it
    assert result.statements == 1 and not result.skipped
    assert client.query_one("SELECT count(*) AS n FROM information_schema.columns WHERE column_name = 'total'")["n"]


def test_a_lock_that_never_comes_fails_the_migration_with_nothing_applied(engine, database, pg_server):
    client = make_client(engine, database)
    read_applied(client)
    client.execute("CREATE TABLE reports (id int)")
    agent = holding(pg_server.dsn(database), "SELECT * FROM reports", seconds=2)
    try:
        with pytest.raises(MigrationFailed, match="55P03"):
            locks = LockPolicy(lock_timeout_seconds=0.1, attempts=2, first_delay=0.1)
            apply(client, [migration(1, "ALTER TABLE reports ADD COLUMN total numeric")], progress=lambda _: None,
                  locks=locks, sleep=time.sleep)  # fmt: skip
    finally:
        agent.join()
    assert read_applied(client) == []  # not recorded, nothing half-applied


def test_a_second_runner_waits_past_the_call_limit_without_a_long_call_then_skips(engine, database, pg_server):
    client = make_client(engine, database)
    read_applied(client)
    first = migration(1, "CREATE TABLE from_the_first_runner (id int)")
    lines: list[str] = []
    # The first runner holds the project's lock for 2.5 s (longer than the 1 s call limit) and commits 0001.
    done = threading.Event()

    def first_runner():
        with psycopg.connect(pg_server.dsn(database)) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            done.set()
            time.sleep(2.5)
            conn.execute("CREATE TABLE from_the_first_runner (id int)")
            conn.execute("INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (1, %s, %s, 5)",
                         (first.name, first.checksum))  # fmt: skip
            conn.commit()

    thread = threading.Thread(target=first_runner)
    thread.start()
    done.wait(5)
    started = time.monotonic()
    try:
        (result,) = apply(client, [first], progress=lines.append, locks=LockPolicy(first_delay=0.2, max_delay=0.5),
                          sleep=time.sleep)  # fmt: skip
    finally:
        thread.join()
    assert time.monotonic() - started > 2  # it waited longer than one call may take, in short calls
    assert result.skipped
    assert any("another run holds the migration lock; waiting" in line for line in lines), lines
    assert engine.calls["ExecuteStatement"] >= 3  # polled, never one blocking call


def test_the_init_handler_uses_the_profiles_lock_timeout(engine, database, pg_server, manifest, tmp_path):
    from alex_db.authoring.manifest_builder import build_manifest
    from schema_init.handler import lock_policy, on_event
    from tests.conftest import SEED_DIR
    from tests.integration.test_schema_init import cfn_event, copy_migrations

    assert lock_policy({"LockTimeoutSeconds": "0.2"}).lock_timeout_seconds == 0.2
    assert lock_policy({}).lock_timeout_seconds == 5  # a template from before the setting
    client = make_client(engine, database)
    on_event(cfn_event("Create", manifest, database=database), None, client=client, manifest=manifest)
    newer = build_manifest(copy_migrations(tmp_path, {"0003_total.sql": "ALTER TABLE jobs ADD COLUMN total int;\n"}),
                           SEED_DIR)  # fmt: skip
    event = cfn_event("Update", newer, database=database)
    event["ResourceProperties"]["LockTimeoutSeconds"] = "0.2"
    agent = holding(pg_server.dsn(database), "SELECT * FROM jobs", seconds=1.0)
    lines: list[str] = []
    import logging

    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("alex_db").addHandler(handler)
    try:
        response = on_event(event, None, client=client, manifest=newer)
    finally:
        logging.getLogger("alex_db").removeHandler(handler)
        agent.join()
    assert response["Data"]["MigrationsApplied"] == "0003_total"
    assert any("waited 0.2 s for a lock (lock_timeout)" in line for line in lines), lines
