"""`alex-db` as users run it: a subprocess against a temporary --local --dir, plus --stack in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from alex_db.devtools import cli, targets
from alex_db.devtools.local_engine import LocalDataApi
from tests.cli_runner import run_in_process, run_process
from tests.conftest import CLUSTER_ARN, MIGRATIONS_DIR, ROOT, SECRET_ARN

pytestmark = pytest.mark.slow


# In this process (cli.main): the same code as the console script without an interpreter start per call;
# `run_process` where the entry point itself or process semantics (kill, two at once) are the point.
alex_db = run_in_process


@pytest.fixture(scope="module")
def local_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli") / "local"
    result = alex_db("local", "up", "--dir", str(directory))
    assert result.returncode == 0, result.stderr
    yield directory
    alex_db("local", "down", "--dir", str(directory))


def local_dsn(directory: Path) -> str:
    result = alex_db("local", "url", "--dir", str(directory))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_local_up_prints_progress_count_and_how_to_connect(tmp_path):
    directory = tmp_path / "fresh"
    first = run_process("local", "up", "--dir", str(directory))  # the console entry point, as users run it
    try:
        assert first.returncode == 0, first.stderr
        assert "0001 initial_schema: 16 statements in" in first.stdout
        assert "instruments: 22" in first.stdout
        assert "psql 'postgresql://" in first.stdout
        app_line = next(line for line in first.stdout.splitlines() if line.startswith("app:"))
        app_url = app_line.split("'")[1]
        assert app_url.startswith("postgresql://alex_app_1:")
        with psycopg.connect(app_url) as app:  # the agents' role: DML yes, DDL no, password checked
            assert app.execute("SELECT count(*) FROM instruments").fetchone() == (22,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("DROP TABLE users")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(app_url.replace(app_url.split(":")[2].split("@")[0], "wrong"))
        assert "local_client(" in first.stdout
        second = alex_db("local", "up", "--dir", str(directory))
        assert second.returncode == 0, second.stderr
        assert "0 migration(s) applied" in second.stdout and "initial_schema:" not in second.stdout
    finally:
        down = alex_db("local", "down", "--dir", str(directory))
    assert down.returncode == 0 and "stopped" in down.stdout
    gone = alex_db("local", "url", "--dir", str(directory))
    assert gone.returncode == 2 and "no local PostgreSQL running" in gone.stderr


def test_status_json_shows_applied_and_nothing_pending(local_dir):
    result = alex_db("status", "--local", "--dir", str(local_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pending"] == []
    states = [(m["version"], m["status"], m["checksum"]) for m in report["migrations"]]
    assert states == [(1, "applied", "ok"), (2, "applied", "ok")]
    assert report["tables"]["instruments"] == 22


def test_status_text_flags_an_edited_migration(local_dir, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "0001_initial_schema.sql").write_text((MIGRATIONS_DIR / "0001_initial_schema.sql").read_text() + "\n")
    (migrations / "0003_next.sql").write_text("CREATE TABLE next_thing (id int);\n")
    result = alex_db("status", "--local", "--dir", str(local_dir), "--migrations-dir", str(migrations))
    assert result.returncode == 1
    assert "checksum MISMATCH" in result.stdout
    assert "0003 next" in result.stdout and "pending" in result.stdout


def test_migrate_and_seed_are_idempotent(local_dir):
    migrate = alex_db("migrate", "--local", "--dir", str(local_dir))
    assert migrate.returncode == 0 and "up to date, nothing to apply" in migrate.stdout
    seed = alex_db("seed", "--local", "--dir", str(local_dir))
    assert seed.returncode == 0 and "upserted 22 instruments" in seed.stdout


def test_failed_migration_exits_3_with_the_database_message(local_dir, tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "0003_bad.sql").write_text("CREATE TABLE t2 (id int);\nINSERT INTO missing VALUES (1);\n")
    result = alex_db("migrate", "--local", "--dir", str(local_dir), "--migrations-dir", str(migrations))
    assert result.returncode == 3
    assert "error: migration 0003 (0003_bad.sql) failed at statement 2/2" in result.stderr
    assert 'relation "missing" does not exist' in result.stderr
    status = json.loads(alex_db("status", "--local", "--dir", str(local_dir), "--json").stdout)
    assert "t2" not in status["tables"] and status["schema_version"] == 2


def test_reset_needs_confirmation(local_dir):
    result = alex_db("reset", "--local", "--dir", str(local_dir))
    assert result.returncode == 2
    assert "refusing to reset" in result.stderr and "hint: pass --yes" in result.stderr


def test_reset_with_test_data_then_verify(local_dir):
    for _ in range(2):  # idempotent
        result = alex_db("reset", "--local", "--dir", str(local_dir), "--with-test-data", "--yes")
        assert result.returncode == 0, result.stderr
        assert "test data: user test_user_001, 3 accounts, 5 positions" in result.stdout
    with psycopg.connect(local_dsn(local_dir)) as conn:
        accounts = conn.execute(
            "SELECT account_name, cash_balance, cash_interest FROM accounts WHERE clerk_user_id = 'test_user_001' "
            "ORDER BY account_name"
        ).fetchall()
        positions = conn.execute(
            "SELECT p.symbol, p.quantity FROM positions p JOIN accounts a ON a.id = p.account_id "
            "WHERE a.account_name = '401(k)' ORDER BY p.symbol"
        ).fetchall()
        user = conn.execute(
            "SELECT display_name, years_until_retirement, target_retirement_income FROM users"
        ).fetchall()
    assert [a[0] for a in accounts] == ["401(k)", "Roth IRA", "Taxable Brokerage"]
    assert [(float(a[1]), float(a[2])) for a in accounts] == [(5000, 0.045), (1000, 0.04), (2500, 0.035)]
    assert [(s, int(q)) for s, q in positions] == [("BND", 200), ("GLD", 25), ("QQQ", 50), ("SPY", 100), ("VEA", 150)]
    assert [(u[0], u[1], int(u[2])) for u in user] == [("Test User", 25, 100000)]
    verify = alex_db("verify", "--local", "--dir", str(local_dir))
    assert verify.returncode == 0, verify.stdout
    assert "schema: 0 difference(s) from the snapshot, 0 warning(s)" in verify.stdout
    assert "2/2 seed checks passed" in verify.stdout


def test_verify_reports_each_drift_and_reset_repairs_it(local_dir):
    with psycopg.connect(local_dsn(local_dir), autocommit=True) as conn:
        conn.execute("ALTER TABLE jobs DROP CONSTRAINT jobs_status_known")
        conn.execute("ALTER TABLE positions ALTER COLUMN quantity DROP NOT NULL")
        conn.execute("ALTER TABLE accounts ALTER COLUMN account_purpose TYPE varchar(40)")
        conn.execute("DROP TRIGGER update_users_updated_at ON users")
        conn.execute("DROP INDEX idx_jobs_status")
        conn.execute("CREATE TABLE foo (id int)")
    result = alex_db("verify", "--local", "--dir", str(local_dir))
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    for expected in (
        "  DRIFT  jobs: CHECK jobs_status_known missing",
        "  DRIFT  positions: column quantity numeric(20,8), expected numeric(20,8) NOT NULL",
        "  DRIFT  accounts: column account_purpose character varying(40), expected text",
        "  DRIFT  users: trigger update_users_updated_at missing",
        "  DRIFT  jobs: index idx_jobs_status missing",
        "  WARN   extra table foo",
    ):
        assert expected in lines, result.stdout
    assert "schema: 5 difference(s) from the snapshot, 1 warning(s)" in lines
    status = alex_db("status", "--local", "--dir", str(local_dir))
    assert "drift: 5 difference(s) from the snapshot (see `alex-db verify`)" in status.stdout

    assert alex_db("reset", "--local", "--dir", str(local_dir), "--yes").returncode == 0
    with psycopg.connect(local_dsn(local_dir), autocommit=True) as conn:
        conn.execute("DROP TABLE foo")  # not ours: reset leaves it, verify only warns about it
    again = alex_db("verify", "--local", "--dir", str(local_dir))
    assert again.returncode == 0, again.stdout
    assert "drift: none" in alex_db("status", "--local", "--dir", str(local_dir)).stdout


def test_verify_sees_row_security_disabled_triggers_and_unlogged_tables(local_dir):
    with psycopg.connect(local_dsn(local_dir), autocommit=True) as conn:
        conn.execute("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY only_mine ON accounts USING (clerk_user_id = current_user)")
        conn.execute("ALTER TABLE accounts ENABLE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE accounts FORCE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE jobs DISABLE TRIGGER update_jobs_updated_at")
        conn.execute("ALTER TABLE jobs SET UNLOGGED")
    result = alex_db("verify", "--local", "--dir", str(local_dir))
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    for expected in (
        "  DRIFT  users: row security enabled, expected off (row-level security hides rows from the agents' role)",
        "  DRIFT  accounts: row security enabled, forced, expected off (row-level security hides rows from the "
        "agents' role)",
        "  DRIFT  accounts: extra policy only_mine: PERMISSIVE FOR ALL TO public USING "
        "(((clerk_user_id)::text = CURRENT_USER))",
        "  DRIFT  jobs: trigger update_jobs_updated_at disabled, expected enabled",
        "  DRIFT  jobs: persistence unlogged, expected permanent (an unlogged table is emptied by a crash and not "
        "replicated)",
    ):
        assert expected in lines, result.stdout
    assert alex_db("reset", "--local", "--dir", str(local_dir), "--yes").returncode == 0
    assert alex_db("verify", "--local", "--dir", str(local_dir)).returncode == 0


def test_verify_reports_app_role_settings_and_the_next_init_clears_them(local_dir):
    with psycopg.connect(local_dsn(local_dir), autocommit=True) as conn:
        conn.execute("ALTER ROLE alex_app_1 SET search_path = nowhere")  # what an agent may do to itself
    result = alex_db("verify", "--local", "--dir", str(local_dir))
    assert result.returncode == 1
    assert ("  DRIFT  role alex_app_1 carries settings for every later session: search_path=nowhere "
            "(init or rotation clears them)") in result.stdout.splitlines()  # fmt: skip
    assert alex_db("local", "up", "--dir", str(local_dir)).returncode == 0  # the init
    assert alex_db("verify", "--local", "--dir", str(local_dir)).returncode == 0


def test_test_connection(local_dir):
    result = alex_db("test-connection", "--local", "--dir", str(local_dir))
    assert result.returncode == 0
    assert "server: PostgreSQL 18" in result.stdout and "round trip:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["status"], "error: no database target given", "hint: use --local, --stack AlexDatabase-dev"),
        (["status", "--local", "--stack", "AlexDatabase-dev"], "choose one target, got --local and --stack", None),
        (
            ["status", "--local", "--dir", "/nonexistent/alex"],
            "no local database in /nonexistent/alex",
            "hint: create it with `alex-db local up --dir /nonexistent/alex`",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_hint(args, message, hint):
    result = subprocess.run(
        [sys.executable, "-m", "alex_db", *args], cwd=ROOT, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    if hint:
        assert hint in result.stderr
    assert "Traceback" not in result.stderr


def test_argparse_usage_error_exits_2():
    result = alex_db("status", "--no-such-flag")
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def stubbed_cloudformation(stack: str, database: str, *, profile: str | None = None, tags: dict | None = None):
    cfn = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(cfn)
    outputs = {"ClusterArn": CLUSTER_ARN, "SecretArn": "arn:app-secret", "AdminSecretArn": SECRET_ARN,
               "DatabaseName": database}  # fmt: skip
    if profile:
        outputs["Profile"] = profile
    stubber.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": stack, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "UPDATE_COMPLETE",
                     "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                     "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]},
        {"StackName": stack},
    )  # fmt: skip
    stubber.activate()
    return cfn


def stubbed_rds(*, deletion_protection: bool, tags: dict | None = None, error: str | None = None):
    rds = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(rds)
    if error:
        stubber.add_client_error("describe_db_clusters", service_error_code=error, http_status_code=403)
    else:
        cluster = {
            "DBClusterIdentifier": "alex-test",
            "DBClusterArn": CLUSTER_ARN,
            "DeletionProtection": deletion_protection,
            "TagList": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        }
        stubber.add_response("describe_db_clusters", {"DBClusters": [cluster]}, {"DBClusterIdentifier": CLUSTER_ARN})
    stubber.activate()
    return rds


def test_stack_target_reads_outputs_and_uses_the_data_api(pg_server, initialized_database, monkeypatch, capsys):
    engine = LocalDataApi(pg_server.dsn(initialized_database))
    monkeypatch.setattr(
        targets, "cloudformation_client", lambda: stubbed_cloudformation("AlexDatabase-dev", initialized_database)
    )
    monkeypatch.setattr(targets, "rds_data_client", lambda: engine)
    assert cli.main(["status", "--stack", "AlexDatabase-dev", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["target"] == "stack AlexDatabase-dev"
    assert report["tables"]["instruments"] == 22
    assert "using the admin secret (AdminSecretArn of AlexDatabase-dev)" in captured.err
    assert engine.calls["ExecuteStatement"] > 0
    engine.close()


@pytest.mark.parametrize(
    ("stack", "profile", "tags", "protected", "reason"),
    [
        ("AlexDatabase-prod-eu", "prod", {}, False, "stack AlexDatabase-prod-eu's Profile output is prod"),
        ("alex-db-eu", None, {"alex:profile": "prod"}, False, "stack alex-db-eu is tagged alex:profile=prod"),
        ("AlexDatabase-staging", "staging", {}, True, "cluster alex-test has deletion protection on"),
    ],
)
def test_reset_refuses_a_prod_stack_from_facts_not_names(monkeypatch, capsys, stack, profile, tags, protected, reason):
    monkeypatch.setattr(
        targets, "cloudformation_client", lambda: stubbed_cloudformation(stack, "alex", profile=profile, tags=tags)
    )
    monkeypatch.setattr(targets, "rds_client", lambda: stubbed_rds(deletion_protection=protected))
    monkeypatch.setattr(targets, "rds_data_client", lambda: object())
    assert cli.main(["reset", "--stack", stack, "--yes"]) == 2
    err = capsys.readouterr().err
    assert f"refusing to reset stack {stack}: {reason}" in err and "hint: add --force-prod" in err


def test_reset_refuses_a_deletion_protected_cluster_by_arn(monkeypatch, capsys):
    # "alex-test": nothing in the name says prod; the cluster's deletion protection does.
    monkeypatch.setattr(targets, "rds_client", lambda: stubbed_rds(deletion_protection=True))
    monkeypatch.setattr(targets, "rds_data_client", lambda: object())
    assert cli.main(["reset", "--cluster-arn", CLUSTER_ARN, "--secret-arn", SECRET_ARN, "--yes"]) == 2
    assert (
        "refusing to reset cluster alex-test: cluster alex-test has deletion protection on" in capsys.readouterr().err
    )


def test_reset_treats_an_unknowable_cluster_as_prod(monkeypatch, capsys):
    monkeypatch.setattr(targets, "rds_client", lambda: stubbed_rds(deletion_protection=False, error="AccessDenied"))
    monkeypatch.setattr(targets, "rds_data_client", lambda: object())
    assert cli.main(["reset", "--cluster-arn", CLUSTER_ARN, "--secret-arn", SECRET_ARN, "--yes"]) == 2
    assert "cannot tell whether cluster alex-test is prod (AccessDenied" in capsys.readouterr().err


def test_dev_stack_dry_run_passes_the_guard_and_changes_nothing(pg_server, initialized_database, monkeypatch, capsys):
    engine = LocalDataApi(pg_server.dsn(initialized_database))
    monkeypatch.setattr(
        targets,
        "cloudformation_client",
        lambda: stubbed_cloudformation("AlexDatabase-dev", initialized_database, profile="dev"),
    )
    monkeypatch.setattr(targets, "rds_client", lambda: stubbed_rds(deletion_protection=False))
    monkeypatch.setattr(targets, "rds_data_client", lambda: engine)
    assert cli.main(["reset", "--stack", "AlexDatabase-dev", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would drop table public.instruments" in out and "would drop function public.update_updated_at_column" in out
    assert "dry run: " in out
    with psycopg.connect(pg_server.dsn(initialized_database)) as conn:
        assert conn.execute("SELECT count(*) FROM instruments").fetchone() == (22,)
    engine.close()


def test_test_connection_says_a_paused_cluster_is_resuming(pg_server, initialized_database, monkeypatch, capsys):
    engine = LocalDataApi(pg_server.dsn(initialized_database))
    engine.inject_fault("DatabaseResumingException", times=1)
    monkeypatch.setattr(targets, "rds_data_client", lambda: engine)
    monkeypatch.setenv("AURORA_CLUSTER_ARN", CLUSTER_ARN)  # env vars as the fallback target
    monkeypatch.setenv("AURORA_SECRET_ARN", SECRET_ARN)
    monkeypatch.setenv("AURORA_DATABASE", initialized_database)
    assert cli.main(["test-connection"]) == 0
    captured = capsys.readouterr()
    assert "the cluster is resuming from auto-pause; retrying in 0.5 s" in captured.err
    assert f"database {initialized_database}" in captured.out
    engine.close()


def test_reset_with_invalid_test_data_changes_nothing(local_dir, tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(ROOT / "seed", seed)
    data = json.loads((seed / "test_user.json").read_text())
    data["accounts"][0]["positions"][2]["quantity"] = -5
    data["accounts"][0]["positions"][3]["symbol"] = "DOGE"
    (seed / "test_user.json").write_text(json.dumps(data))
    with psycopg.connect(local_dsn(local_dir), autocommit=True) as conn:
        conn.execute("INSERT INTO users (clerk_user_id) VALUES ('survivor') ON CONFLICT DO NOTHING")
    result = alex_db("reset", "--local", "--dir", str(local_dir), "--with-test-data", "--yes", "--seed-dir", str(seed))
    assert result.returncode == 2
    assert (
        "test_user.json: accounts[0].positions[2].quantity: Input should be greater than or equal to 0" in result.stderr
    )
    assert "accounts[0].positions[3].symbol: DOGE is not a seed instrument" in result.stderr
    assert "dropped" not in result.stdout
    with psycopg.connect(local_dsn(local_dir)) as conn:
        assert conn.execute("SELECT 1 FROM users WHERE clerk_user_id = 'survivor'").fetchone() == (1,)
        conn.execute("DELETE FROM users WHERE clerk_user_id = 'survivor'")


def test_server_killed_mid_migration_is_one_line_exit_3_and_the_rerun_applies_once(tmp_path):
    import os
    import signal
    import time

    directory = tmp_path / "killed"
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, migrations)
    (migrations / "0003_slow.sql").write_text("CREATE TABLE slow_things (id int);\nSELECT pg_sleep(1);\n")
    (migrations / "schema_snapshot.json").unlink()  # the snapshot describes 0001-0002 only
    assert alex_db("local", "up", "--dir", str(directory)).returncode == 0
    try:
        dsn = local_dsn(directory)
        migrate = subprocess.Popen(
            [sys.executable, "-m", "alex_db", "migrate", "--local", "--dir", str(directory),
             "--migrations-dir", str(migrations)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        with psycopg.connect(dsn, autocommit=True) as watcher:
            for _ in range(200):
                sleeping = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
                if sleeping.fetchone()[0]:
                    break
                time.sleep(0.05)
            pid = int((directory / "pgdata" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the server dies mid-migration, no clean-up
        _, stderr = migrate.communicate(timeout=60)
        assert migrate.returncode == 3, stderr
        lines = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "0003_slow.sql" in lines[0] and "Traceback" not in stderr
        time.sleep(0.5)  # let the killed server's backends exit before restarting it
        again = alex_db("migrate", "--local", "--dir", str(directory), "--migrations-dir", str(migrations))
        assert again.returncode == 0, again.stderr
        with psycopg.connect(dsn) as conn:
            history = conn.execute(
                "SELECT version, duration_ms >= 0 FROM schema_migrations ORDER BY version"
            ).fetchall()
        assert history == [(1, True), (2, True), (3, True)]  # applied once, recorded once
    finally:
        alex_db("local", "down", "--dir", str(directory))


def test_local_up_works_under_a_path_with_spaces_and_twice_at_once(tmp_path):
    directory = tmp_path / "my projects" / "alex db"
    command = [sys.executable, "-m", "alex_db", "local", "up", "--dir", str(directory)]
    runs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"
    ]
    try:
        results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        for code, out, err in results:
            assert code == 0, err
            assert "instruments: 22" in out and "Traceback" not in err
        applied = sum(out.count("initial_schema: 16 statements in") for _, out, _ in results)
        assert applied == 1  # one of them migrated; the other found it done
    finally:
        alex_db("local", "down", "--dir", str(directory))


def test_make_local_from_a_checkout_whose_path_has_a_space(tmp_path):
    checkout = tmp_path / "alex checkout"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    (checkout / ".venv").symlink_to(ROOT / ".venv")  # the installed environment; `make local` skips installing
    result = subprocess.run(["make", "local"], cwd=checkout, capture_output=True, text=True, check=False)
    try:
        assert result.returncode == 0, result.stderr
        assert "instruments: 22" in result.stdout
    finally:
        subprocess.run(["make", "local-down"], cwd=checkout, capture_output=True, check=False)


def test_probe_local_passes_every_row_and_writes_json(local_dir, tmp_path):
    report = tmp_path / "probe.json"
    result = alex_db("probe", "--local", "--dir", str(local_dir), "--json", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    observations = json.loads(report.read_text())["observations"]
    assert len(observations) == 17 and {o["verdict"] for o in observations} == {"PASS"}
    assert "behaviour" in result.stdout.splitlines()[0] and "17/17 as expected" in result.stdout
    with psycopg.connect(local_dsn(local_dir)) as conn:  # the scratch table is gone
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'alex_probe_%'").fetchone() == (0,)


def test_probe_shows_where_a_target_disagrees(pg_server, initialized_database, monkeypatch, capsys):
    import re

    from alex_db.devtools import wire_format
    from alex_db.devtools.probe import Probe

    # A target that accepts 6 fractional digits (what AWS might do): the probe's row says so.
    monkeypatch.setattr(
        wire_format, "_TIMESTAMP_FORMAT", re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?")
    )
    engine = LocalDataApi(pg_server.dsn(initialized_database), transaction_idle_seconds=1)
    from tests.conftest import make_client

    observations = {o.behaviour: o for o in Probe(make_client(engine, initialized_database), idle_seconds=1).run()}
    row = observations["TIMESTAMP typeHint with 6 fractional digits"]
    assert (row.observed, row.verdict, row.confirmed) == ("accepted", "INFO", False)  # a guess: informational
    assert observations["TIMESTAMP typeHint with 3 fractional digits"].verdict == "PASS"
    engine.close()


def test_probe_fails_only_on_a_confirmed_expectation(pg_server, initialized_database, monkeypatch):
    import re

    from alex_db.devtools import wire_format
    from alex_db.devtools.probe import Probe
    from tests.conftest import make_client

    # A target that refuses 3 fractional digits, which the Data API reference documents: a FAIL.
    monkeypatch.setattr(wire_format, "_TIMESTAMP_FORMAT", re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"))
    engine = LocalDataApi(pg_server.dsn(initialized_database), transaction_idle_seconds=1)
    observations = {o.behaviour: o for o in Probe(make_client(engine, initialized_database), idle_seconds=1).run()}
    row = observations["TIMESTAMP typeHint with 3 fractional digits"]
    assert (row.verdict, row.confirmed) == ("FAIL", True)
    engine.close()
