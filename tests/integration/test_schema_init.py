"""The init Lambda's handler, called with CloudFormation-shaped events, on real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alex_db.authoring.manifest_builder import build_manifest
from alex_db.client import DataApiError
from alex_db.devtools.local_engine import LocalDataApi
from alex_db.errors import ChecksumMismatch, MigrationFailed
from schema_init.handler import on_event
from tests.conftest import CLUSTER_ARN, MIGRATIONS_DIR, SECRET_ARN, SEED_DIR, make_client

TABLES = {"users", "instruments", "accounts", "positions", "jobs", "schema_migrations"}


def cfn_event(request_type: str, manifest: dict, *, database: str, old: dict | None = None, physical_id=None) -> dict:
    properties = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "ClusterArn": CLUSTER_ARN,
        "SecretArn": SECRET_ARN,
        "Database": database,
        "ManifestHash": manifest["manifest_hash"],
        "Migrations": [f"{m['version']:04d}_{m['name']}" for m in manifest["migrations"]],
    }
    event = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response.example/",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/AlexDatabase-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "SchemaInit",
        "ResourceType": "Custom::AlexSchemaInit",
        "ResourceProperties": properties,
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = old
    return event


def tables(client) -> set[str]:
    rows = client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


def snapshot(client) -> dict:
    """Everything a test may check for 'unchanged': tables, history and row counts."""
    present = tables(client)
    counts = {t: client.query_one(f"SELECT count(*) AS n FROM {t}")["n"] for t in sorted(present)}
    history = client.query("SELECT version, checksum FROM schema_migrations") if "schema_migrations" in present else []
    return {"tables": present, "counts": counts, "history": history}


def copy_migrations(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    for name, sql in (extra or {}).items():
        (target / name).write_text(sql)
    return target


@pytest.fixture
def init(api, database, sleeper):
    """Call the handler as CloudFormation would; returns (response, client)."""
    client = make_client(api, database, sleeper)

    def run(request_type: str, manifest: dict, **kwargs) -> dict:
        return on_event(cfn_event(request_type, manifest, database=database, **kwargs), None, client=client,
                        manifest=kwargs.pop("bundled", manifest))  # fmt: skip

    run.client = client
    return run


def test_fresh_create_migrates_and_seeds(init, api, manifest, capsys):
    response = init("Create", manifest)
    assert response["PhysicalResourceId"] == f"{CLUSTER_ARN}/{init.client.database}/schema"
    assert response["Data"] == {
        "SchemaVersion": "2",
        "MigrationsApplied": "0001_initial_schema,0002_course_vocabularies",
        "InstrumentCount": "22",
        "Pending": "false",  # nothing left for the Provider's isComplete handler to wait for
    }
    calls = sum(api.calls.values())
    statements = sum(len(m["statements"]) for m in manifest["migrations"])
    migrations = len(manifest["migrations"])
    print(f"\nfresh init: {dict(api.calls)} = {calls} calls; {statements} statements, {migrations} migration(s)")
    assert tables(init.client) == TABLES
    # Per migration: Begin, lock+recheck, its statements, record, Commit. Fixed: read history (+create it
    # on a fresh database), one seed batch, one count. The lock+recheck and record are SQL statements too.
    assert calls <= statements + 2 * migrations + 2 * migrations + 4
    assert api.calls["BatchExecuteStatement"] == 1
    assert len(response["Data"]["MigrationsApplied"]) + 200 < 4096


def test_same_create_again_runs_no_migration_statement(init, api, manifest):
    init("Create", manifest)
    before = snapshot(init.client)
    api.reset_counts()
    response = init("Create", manifest)
    assert response["Data"]["MigrationsApplied"] == "none"
    assert api.calls["BeginTransaction"] == 0  # no migration transaction at all
    assert api.calls["ExecuteStatement"] == 2  # read history, count instruments
    assert api.calls["BatchExecuteStatement"] == 1  # idempotent upsert, rows unchanged
    assert snapshot(init.client) == before


def test_new_migration_runs_alone(init, api, manifest, tmp_path, caplog):
    init("Create", manifest)
    newer = build_manifest(
        copy_migrations(tmp_path, {"0003_add_watchlists.sql": "CREATE TABLE watchlists (id int PRIMARY KEY);\n"}),
        SEED_DIR,
    )
    api.reset_counts()
    response = init("Update", newer, physical_id="pid", old=dict(manifest_hash=manifest["manifest_hash"]))
    assert response["PhysicalResourceId"] == "pid"
    assert response["Data"]["MigrationsApplied"] == "0003_add_watchlists"
    assert response["Data"]["SchemaVersion"] == "3"
    assert "watchlists" in tables(init.client)
    assert api.calls["BeginTransaction"] == 1
    assert "0003 add_watchlists: 1 statements in" in caplog.text


def test_edited_applied_migration_is_a_hard_error(init, manifest, tmp_path):
    init("Create", manifest)
    before = snapshot(init.client)
    edited_dir = copy_migrations(tmp_path)
    path = edited_dir / "0001_initial_schema.sql"
    path.write_text(path.read_text() + "\nCREATE INDEX idx_sneaky ON users (display_name);\n")
    edited = build_manifest(edited_dir, SEED_DIR)
    with pytest.raises(ChecksumMismatch, match=r"migration 0001 \(0001_initial_schema.sql\) was applied with checksum"):
        init("Update", edited, physical_id="pid")
    assert snapshot(init.client) == before


def test_failing_migration_leaves_nothing_behind(init, manifest, tmp_path):
    init("Create", manifest)
    before = snapshot(init.client)
    bad = build_manifest(
        copy_migrations(
            tmp_path,
            {
                "0003_half_done.sql": (
                    "CREATE TABLE audit_log (id int PRIMARY KEY);\n"
                    "ALTER TABLE users ADD COLUMN nickname text;\n"
                    "INSERT INTO no_such_table VALUES (1);\n"
                    "CREATE TABLE never_created (id int);\n"
                )
            },
        ),
        SEED_DIR,
    )
    with pytest.raises(MigrationFailed) as excinfo:
        init("Update", bad, physical_id="pid")
    message = str(excinfo.value)
    assert "migration 0003 (0003_half_done.sql) failed at statement 3/4" in message
    assert "line 3: INSERT INTO no_such_table VALUES (1)" in message
    assert 'relation "no_such_table" does not exist' in message
    assert snapshot(init.client) == before
    columns = init.client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")
    assert "nickname" not in {c["column_name"] for c in columns}


def run_together(pg_server, database: str, count: int, work):
    """work(client) in `count` threads, each with its own engine, released at once; a worker's error is raised."""
    engines = [LocalDataApi(pg_server.dsn(database)) for _ in range(count)]
    barrier = threading.Barrier(count)

    def one(engine):
        barrier.wait()
        return work(make_client(engine, database))

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(one, engines))
    finally:
        for engine in engines:
            engine.close()


def test_concurrent_inits_apply_each_migration_once(pg_server, database, manifest):
    event = cfn_event("Create", manifest, database=database)
    results = run_together(
        pg_server, database, 2, lambda client: on_event(event, None, client=client, manifest=manifest)
    )
    engine = LocalDataApi(pg_server.dsn(database))
    client = make_client(engine, database)
    assert client.query("SELECT version FROM schema_migrations") == [{"version": 1}, {"version": 2}]
    assert client.query_one("SELECT count(*) AS n FROM instruments") == {"n": 22}
    # Either runner may win each migration's lock; across both, each migration is applied exactly once.
    applied = [m for r in results for m in r["Data"]["MigrationsApplied"].split(",") if m != "none"]
    assert sorted(applied) == ["0001_initial_schema", "0002_course_vocabularies"]
    engine.close()


def test_delete_keeps_all_data(init, api, manifest):
    init("Create", manifest)
    init.client.execute("INSERT INTO users (clerk_user_id) VALUES ('keep_me')")
    before = snapshot(init.client)
    api.reset_counts()
    assert init("Delete", manifest, physical_id="pid") == {"PhysicalResourceId": "pid"}
    assert sum(api.calls.values()) == 0
    assert snapshot(init.client) == before


def test_rollback_update_with_old_properties_changes_nothing(init, api, manifest, tmp_path):
    newer = build_manifest(
        copy_migrations(tmp_path, {"0003_more.sql": "CREATE TABLE more_things (id int);\n"}), SEED_DIR
    )
    init("Create", newer)  # the new deploy got as far as migrating
    before = snapshot(init.client)
    api.reset_counts()
    # CloudFormation rolls back: old properties, while the function still bundles the new manifest.
    response = on_event(
        cfn_event("Update", manifest, database=init.client.database, physical_id="pid"),
        None,
        client=init.client,
        manifest=newer,
    )
    # The older template's own view (its newest migration); the database stays ahead, forward-only.
    assert response["Data"]["SchemaVersion"] == "2"
    assert response["Data"]["MigrationsApplied"] == "none"
    assert sum(api.calls.values()) == 0  # zero Data API calls: a rollback cannot fail on the database
    assert snapshot(init.client) == before


def test_rollback_succeeds_while_the_database_is_unreachable(init, api, manifest, tmp_path):
    newer = build_manifest(
        copy_migrations(tmp_path, {"0003_more.sql": "CREATE TABLE more_things (id int);\n"}), SEED_DIR
    )
    init("Create", newer)
    api.inject_fault("BadRequestException", times=100, message="Communications link failure")
    response = on_event(
        cfn_event("Update", manifest, database=init.client.database, physical_id="pid"),
        None,
        client=init.client,
        manifest=newer,
    )
    assert response["PhysicalResourceId"] == "pid" and response["Data"]["SchemaVersion"] == "2"


def test_old_code_on_a_newer_database_changes_nothing(init, api, manifest, tmp_path):
    newer = build_manifest(
        copy_migrations(tmp_path, {"0003_more.sql": "CREATE TABLE more_things (id int);\n"}), SEED_DIR
    )
    init("Create", newer)
    before = snapshot(init.client)
    response = init("Update", manifest, physical_id="pid")  # old function, old properties
    assert response["Data"]["MigrationsApplied"] == "none"
    assert snapshot(init.client) == before


def test_paused_cluster_is_waited_for(init, api, manifest, sleeper):
    api.inject_fault("DatabaseResumingException", times=3)
    response = init("Create", manifest)
    assert response["Data"]["InstrumentCount"] == "22"
    assert len(sleeper.delays) == 3


def test_database_errors_fail_the_request(init, manifest):
    init.client.database = "no_such_database"
    with pytest.raises(DataApiError, match="DatabaseNotFoundException"):
        init("Create", manifest)


def test_runner_waiting_on_the_lock_skips_what_the_other_applied(pg_server, database, manifest):
    # Both runners planned the same pending migration; the advisory lock makes the second wait and skip.
    from alex_db.deploy.apply import apply, read_applied
    from alex_db.deploy.manifest import migrations_of

    engine = LocalDataApi(pg_server.dsn(database))
    read_applied(make_client(engine, database))  # creates the history table
    pending = migrations_of(manifest)
    runs = run_together(pg_server, database, 2, lambda client: apply(client, pending, progress=lambda _line: None))
    assert sorted(r.skipped for results in runs for r in results) == [False, False, True, True]
    versions = make_client(engine, database).query("SELECT version FROM schema_migrations")
    assert versions == [{"version": 1}, {"version": 2}]
    engine.close()


def test_history_table_creation_race_is_survived(pg_server):
    # Several runners on fresh databases, all creating schema_migrations at once (seen failing in CI
    # with 42710 before read_applied checked for the table instead of matching error codes).
    from alex_db.deploy.apply import read_applied
    from tests.conftest import create_database

    for _ in range(5):
        assert run_together(pg_server, create_database(pg_server), 4, read_applied) == [[]] * 4


def test_history_table_error_is_raised_when_the_table_is_still_missing(api, database, monkeypatch):
    from alex_db.deploy import apply

    client = make_client(api, database)
    monkeypatch.setattr(apply, "CREATE_HISTORY_TABLE", "CREATE TABLE schema_migrations (version nonsense_type)")
    with pytest.raises(DataApiError, match='type "nonsense_type" does not exist'):
        apply.read_applied(client)


def test_restore_point_is_logged_before_anything_is_applied(init, manifest, caplog):
    import datetime as dt
    import logging
    import re

    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with caplog.at_level(logging.INFO, logger="alex_db"):
        init("Create", manifest)
    lines = [r.getMessage() for r in caplog.records]
    point = next(i for i, line in enumerate(lines) if line.startswith("restore point:"))
    first_migration = next(i for i, line in enumerate(lines) if "0001 initial_schema" in line)
    assert point < first_migration
    stamp = re.search(r"recoverable to (\S+Z) \(UTC\)", lines[point]).group(1)
    assert dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= started
