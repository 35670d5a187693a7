"""No-transaction migrations on real PostgreSQL: a concurrent index build that outlives its (scaled) Data API
call, a run cut off and resumed without running the statement twice, a failed build's INVALID index repaired,
and a second runner that waits for the first and skips."""

from __future__ import annotations

import threading
import time

import pytest

from alex_db.authoring.migration_files import read_migration
from alex_db.deploy import outside_transaction
from alex_db.deploy.apply import apply, read_applied
from alex_db.devtools.local_engine import LocalDataApi
from alex_db.errors import MigrationFailed, MigrationStillRunning
from tests.conftest import make_client

CALL_LIMIT = 0.5  # stands in for the Data API's 45 s
ROW_SECONDS = 0.4  # each row's index key takes this long to compute: the build outlives the call


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(outside_transaction, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(outside_transaction, "CLAIM_GRACE_SECONDS", 1.0)


@pytest.fixture
def engine(pg_server, database):
    engine = LocalDataApi(pg_server.dsn(database), statement_timeout_seconds=CALL_LIMIT)
    yield engine
    engine.close()


@pytest.fixture
def client(engine, database):
    client = make_client(engine, database)
    read_applied(client)  # the history table
    client.execute(
        "CREATE FUNCTION slow_key(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS "
        f"$$ BEGIN PERFORM pg_sleep({ROW_SECONDS}); RETURN n; END $$"
    )
    client.execute("CREATE TABLE reports (id int PRIMARY KEY, owner int)")
    client.execute("INSERT INTO reports SELECT n, n % 2 FROM generate_series(1, 4) AS n")
    return client


def marked(tmp_path, sql: str):
    path = tmp_path / "0001_reports_index.sql"
    path.write_text("-- alex-db: no-transaction\n" + sql + "\n")
    return read_migration(path)


def index_state(client, name: str):
    row = client.query_one(outside_transaction.INDEX_STATE, {"name": name})
    return None if row is None else row["valid"]


def history(client):
    return client.query("SELECT version, duration_ms FROM schema_migrations ORDER BY version")


def builds(engine, name: str) -> int:
    """How many times a statement building `name` was sent (the repair's DROP is not a build)."""
    return sum(1 for sql in engine.statements if "CREATE" in sql and name in sql)


def test_a_concurrent_build_longer_than_the_call_limit_completes_through_polling(tmp_path, client, engine):
    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_key ON reports (slow_key(id))")
    lines: list[str] = []
    (result,) = apply(client, [migration], progress=lines.append, sleep=time.sleep)
    assert not result.skipped and result.duration_ms >= 4 * ROW_SECONDS * 1000 * 0.9
    assert index_state(client, "idx_reports_key") is True
    assert history(client) == [{"version": 1, "duration_ms": result.duration_ms}]
    assert any("outlived its Data API call" in line for line in lines), lines
    assert any("running for" in line and "phase" in line for line in lines), lines  # pg_stat_progress_create_index
    assert builds(engine, "idx_reports_key") == 1


def test_a_run_cut_off_is_resumed_by_the_next_without_building_twice(tmp_path, client, engine):
    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_key ON reports (slow_key(id))")
    with pytest.raises(MigrationStillRunning, match=r"0001 reports_index: running for .* goes on in the database"):
        apply(client, [migration], progress=lambda _: None, sleep=time.sleep, deadline=time.monotonic() + 0.8)
    assert read_applied(client) == []  # not recorded: it is still running
    assert history(client) == [{"version": 1, "duration_ms": outside_transaction.RUNNING}]
    lines: list[str] = []
    (result,) = apply(client, [migration], progress=lines.append, sleep=time.sleep)  # the next deploy
    assert index_state(client, "idx_reports_key") is True
    assert [h["duration_ms"] >= 0 for h in history(client)] == [True]
    assert builds(engine, "idx_reports_key") == 1, engine.statements
    assert result.skipped  # recorded, not run again: its statement had completed


def test_a_failed_build_leaves_an_invalid_index_the_next_run_rebuilds(tmp_path, client, engine):
    migration = marked(tmp_path, "CREATE UNIQUE INDEX CONCURRENTLY idx_reports_owner ON reports (owner)")
    with pytest.raises(MigrationFailed, match="could not create unique index"):
        apply(client, [migration], progress=lambda _: None, sleep=time.sleep)
    assert index_state(client, "idx_reports_owner") is False  # what PostgreSQL leaves: an INVALID index
    assert read_applied(client) == []
    client.execute("DELETE FROM reports WHERE id > 2")  # the data fixed
    lines: list[str] = []
    apply(client, [migration], progress=lines.append, sleep=time.sleep)
    assert index_state(client, "idx_reports_owner") is True
    assert any("dropping INVALID index idx_reports_owner" in line for line in lines), lines
    assert [h["duration_ms"] >= 0 for h in history(client)] == [True]


def test_a_file_fixed_after_a_failed_build_is_recorded_with_its_new_checksum(tmp_path, client, engine):
    # A failed no-transaction migration was never applied, so its file may be fixed; the history
    # must then hold the fixed file's checksum, or the next deploy would call it edited.
    from alex_db.deploy.plan import plan

    failing = marked(tmp_path, "CREATE UNIQUE INDEX CONCURRENTLY idx_reports_owner ON reports (owner)")
    with pytest.raises(MigrationFailed, match="INVALID index, which the next run drops and builds again"):
        apply(client, [failing], progress=lambda _: None, sleep=time.sleep)
    fixed = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_owner ON reports (owner)")
    assert fixed.checksum != failing.checksum
    apply(client, [fixed], progress=lambda _: None, sleep=time.sleep)
    assert index_state(client, "idx_reports_owner") is True
    assert plan(read_applied(client), [fixed]).pending == ()  # applied, not "edited"


def test_a_second_runner_waits_for_the_first_and_skips(tmp_path, client, engine, database):
    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_key ON reports (slow_key(id))")
    first: list = []
    runner = threading.Thread(target=lambda: first.extend(apply(client, [migration], progress=lambda _: None)))
    runner.start()
    time.sleep(0.3)
    other = make_client(engine, database)  # a second deploy or `alex-db migrate`
    lines: list[str] = []
    (second,) = apply(other, [migration], progress=lines.append, sleep=time.sleep)
    runner.join()
    # Whichever claimed it first (usually the first) built it; the other waited and skipped it.
    assert sorted([first[0].skipped, second.skipped]) == [False, True]
    assert builds(engine, "idx_reports_key") == 1
    assert any("running for" in line for line in lines), lines


def test_a_statement_under_the_call_limit_needs_no_polling(tmp_path, client, engine):
    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_reports_id ON reports (id)")
    lines: list[str] = []
    (result,) = apply(client, [migration], progress=lines.append, sleep=time.sleep)
    assert index_state(client, "idx_reports_id") is True and not result.skipped
    assert not any("outlived" in line for line in lines)


class LambdaContext:
    """What the handler reads of the Lambda context: the time it has left."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - time.monotonic()) * 1000)


def test_the_deploy_waits_through_the_providers_is_complete_handler(tmp_path, pg_server, database, monkeypatch):
    # onEvent runs out of Lambda time while the build runs: it answers Pending instead of failing the
    # deploy; the Provider's waiter then calls isComplete until the build is done and recorded.
    from alex_db.authoring.manifest_builder import build_manifest
    from schema_init import handler
    from tests.conftest import CLUSTER_ARN, MIGRATIONS_DIR, SECRET_ARN, SEED_DIR

    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        (migrations / path.name).write_text(path.read_text())
    (migrations / "squawk_acknowledged.toml").write_text((MIGRATIONS_DIR / "squawk_acknowledged.toml").read_text())
    (migrations / "0003_notes.sql").write_text(
        "CREATE FUNCTION slow_key(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS\n"
        f"$$ BEGIN PERFORM pg_sleep({ROW_SECONDS}); RETURN n; END $$;\n"
        "CREATE TABLE notes (id int PRIMARY KEY);\nINSERT INTO notes SELECT generate_series(1, 6);\n"
    )
    (migrations / "0004_notes_index.sql").write_text(
        "-- alex-db: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_notes_slow ON notes (slow_key(id));\n"
    )
    manifest = build_manifest(migrations, SEED_DIR)
    engine = LocalDataApi(pg_server.dsn(database), statement_timeout_seconds=CALL_LIMIT)
    monkeypatch.setattr(handler, "DEADLINE_MARGIN_SECONDS", 0.0)
    properties = {"ClusterArn": CLUSTER_ARN, "SecretArn": SECRET_ARN, "Database": database,
                  "ManifestHash": manifest["manifest_hash"], "Migrations": []}  # fmt: skip
    event = {"RequestType": "Create", "ResourceProperties": properties}
    try:
        client = make_client(engine, database)
        client.execute("SELECT 1")
        first = handler.on_event(event, LambdaContext(1.5), client=client, manifest=manifest)
        assert first["Data"]["Pending"] == "true"  # the index on 6 slow rows is still being built
        polls = 0
        while True:  # the Provider's waiter: isComplete every query interval, with onEvent's answer merged in
            polls += 1
            answer = handler.is_complete({**event, **first}, LambdaContext(0.5), client=client, manifest=manifest)
            if answer["IsComplete"]:
                break
            assert "Data" not in answer and polls < 100  # the framework refuses Data while not complete
        assert polls > 1
        assert answer["Data"]["SchemaVersion"] == "4" and answer["Data"]["Pending"] == "false"
        assert index_state(client, "idx_notes_slow") is True
        assert builds(engine, "idx_notes_slow") == 1
        done = handler.is_complete({**event, "Data": answer["Data"]}, None, client=client, manifest=manifest)
        assert done == {"IsComplete": True}
    finally:
        engine.close()


def test_status_shows_a_running_migration_with_its_phase_and_blocks(tmp_path, client, engine):
    from alex_db.devtools.status import status_report

    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_key ON reports (slow_key(id))")
    manifest = {"migrations": [migration.to_dict()]}
    runner = threading.Thread(target=lambda: apply(client, [migration], progress=lambda _: None))
    runner.start()
    try:
        for _ in range(50):
            report = status_report(client, manifest)
            if report["migrations"][0]["status"] == "running" and "phase" in report["migrations"][0]["progress"]:
                break
            time.sleep(0.05)
        entry = report["migrations"][0]
        assert entry["status"] == "running" and report["pending"] == ["0001_reports_index"]
        assert entry["progress"].startswith("0001 reports_index: running for ")
        assert "CREATE INDEX CONCURRENTLY idx_reports_key" in entry["progress"] and "phase " in entry["progress"]
    finally:
        runner.join()
    assert status_report(client, manifest)["migrations"][0]["status"] == "applied"


def test_status_says_a_cut_off_run_is_resumed_next_time(tmp_path, client, engine):
    from alex_db.devtools.status import status_report

    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_id ON reports (id)")
    client.execute(outside_transaction.INSERT_CLAIM, {"version": 1, "name": migration.name,
                                                      "checksum": migration.checksum})  # fmt: skip
    entry = status_report(client, {"migrations": [migration.to_dict()]})["migrations"][0]
    assert (
        entry["status"] == "running" and "not running now; the next migrate or deploy resumes it" in entry["progress"]
    )


def test_past_the_wait_limit_the_deploy_fails_saying_the_statement_still_runs(tmp_path, client, engine, database):
    from alex_db.deploy.manifest import migration_labels
    from schema_init import handler
    from stacks.functions import IS_COMPLETE_INTERVAL, IS_COMPLETE_TIMEOUT
    from tests.conftest import CLUSTER_ARN, SECRET_ARN

    # isComplete must give up with its own message before the Provider's timeout says only "timed out".
    assert handler.WAIT_LIMIT_SECONDS + 2 * IS_COMPLETE_INTERVAL.to_seconds() < IS_COMPLETE_TIMEOUT.to_seconds()
    migration = marked(tmp_path, "CREATE INDEX CONCURRENTLY idx_reports_key ON reports (slow_key(id))")
    manifest = {"format": 1, "migrations": [migration.to_dict()], "seed": {"instruments": []}, "manifest_hash": "h"}
    runner = threading.Thread(target=lambda: apply(client, [migration], progress=lambda _: None))
    runner.start()
    try:
        time.sleep(0.3)
        started = int(time.time()) - handler.WAIT_LIMIT_SECONDS - 1  # onEvent began waiting 50 min ago
        properties = {"ClusterArn": CLUSTER_ARN, "SecretArn": SECRET_ARN, "Database": database, "ManifestHash": "h",
                      "Migrations": migration_labels(manifest)}  # fmt: skip
        event = {"RequestType": "Update", "ResourceProperties": properties, "PhysicalResourceId": "p",
                 "Data": {"Pending": "true", "WaitingSince": str(started)}}  # fmt: skip
        with pytest.raises(
            MigrationStillRunning, match=r"running for .* stopped waiting after 50 min .*alex-db status"
        ):
            handler.is_complete(event, LambdaContext(0.2), client=make_client(engine, database), manifest=manifest)
    finally:
        runner.join()
    assert index_state(client, "idx_reports_key") is True  # the statement went on regardless
