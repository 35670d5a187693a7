"""Every operator failure of `alex-db` is one `error:` line, one `hint:` line and a documented exit code:
no traceback, nothing half-done, and no process that is not ours ever signalled."""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from tests.cli_runner import run_in_process

pytestmark = pytest.mark.slow


alex_db = run_in_process  # cli.main in this process; an escaping exception fails the test as a traceback would


def one_line_and_a_hint(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert [line.split(":", 1)[0] for line in lines[-2:]] == ["error", "hint"], result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


@pytest.fixture
def foreign_process():
    """A live process that is not PostgreSQL: a stale postmaster.pid may name its (reused) PID."""
    process = subprocess.Popen(["sleep", "120"])
    yield process
    process.kill()
    process.wait()


def test_local_up_refuses_a_pgdata_that_is_a_file(tmp_path):
    (tmp_path / "pgdata").write_text("not a database")
    one_line_and_a_hint(alex_db("local", "up", "--dir", str(tmp_path)), 2, "is a file", "hint: move it")
    assert (tmp_path / "pgdata").read_text() == "not a database"


def test_local_up_refuses_a_foreign_directory(tmp_path):
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "notes.txt").write_text("mine")
    one_line_and_a_hint(alex_db("local", "up", "--dir", str(tmp_path)), 2, "no PG_VERSION", "foreign directory")
    assert sorted(p.name for p in (tmp_path / "pgdata").iterdir()) == ["notes.txt"]


def test_local_down_never_signals_a_process_a_stale_pid_file_names(tmp_path, foreign_process):
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "postmaster.pid").write_text(f"{foreign_process.pid}\n{tmp_path}/pgdata\n")
    result = alex_db("local", "down", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"postmaster.pid names PID {foreign_process.pid}, which is not this directory's postgres" in result.stdout
    assert foreign_process.poll() is None  # still alive: nothing was signalled


def test_local_up_starts_past_a_stale_pid_file_and_a_failed_start_is_one_line(tmp_path, foreign_process):
    directory = str(tmp_path / "local")
    assert alex_db("local", "up", "--dir", directory).returncode == 0
    assert alex_db("local", "down", "--dir", directory).returncode == 0
    pgdata = tmp_path / "local" / "pgdata"
    (pgdata / "postmaster.pid").write_text(f"{foreign_process.pid}\n{pgdata}\n")
    try:
        result = alex_db("local", "up", "--dir", directory)  # PostgreSQL alone would refuse: "lock file exists"
        assert result.returncode == 0, result.stderr
        assert foreign_process.poll() is None
    finally:
        alex_db("local", "down", "--dir", directory)
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")  # the server cannot start with this
    one_line_and_a_hint(alex_db("local", "up", "--dir", directory), 3, "PostgreSQL did not start", "postmaster.log")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"alex-app": {"name": "alex-app", "ar', "is not valid JSON"),
        (None, "must name alex_app_1 or alex_app_2"),
    ],
    ids=["truncated", "wrong-user"],
)
def test_a_broken_local_secrets_file_is_one_line(local_dir_copy, content, fragment):
    secrets_file = local_dir_copy / "secrets.json"
    original = secrets_file.read_text()
    try:
        break_secrets(secrets_file, content)
        one_line_and_a_hint(alex_db("probe", "--local", "--dir", str(local_dir_copy)), 2, fragment, "delete")
    finally:
        secrets_file.write_text(original)


def break_secrets(secrets_file, content: str | None) -> None:
    if content is None:  # a well-formed file whose secret names a user that is not the app role's
        data = json.loads(secrets_file.read_text())
        for secret in data.values():
            for version in secret["versions"].values():
                version["SecretString"] = json.dumps({"username": "postgres", "password": "x"})
        content = json.dumps(data)
    secrets_file.write_text(content)


@pytest.fixture(scope="module")
def local_dir_copy(tmp_path_factory):
    """A local database of this module's own (its secrets file is broken on purpose)."""
    directory = tmp_path_factory.mktemp("broken") / "local"
    assert alex_db("local", "up", "--dir", str(directory)).returncode == 0
    yield directory
    alex_db("local", "down", "--dir", str(directory))


def test_probe_checks_the_json_directory_before_it_runs(local_dir_copy, tmp_path):
    target = tmp_path / "missing" / "probe.json"
    one_line_and_a_hint(alex_db("probe", "--local", "--dir", str(local_dir_copy), "--json", str(target)), 2,
                        "does not exist", "hint: create the directory")  # fmt: skip


def test_probe_removes_scratch_tables_an_earlier_run_left(pg_server, initialized_database):
    from alex_db.devtools.local_engine import LocalDataApi
    from alex_db.devtools.probe import Probe
    from tests.conftest import make_client

    with psycopg.connect(pg_server.dsn(initialized_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE alex_probe_deadbeef (id int)")  # the server died mid-run last time
        conn.execute("CREATE TABLE alex_probes_are_not_ours (id int)")
    engine = LocalDataApi(pg_server.dsn(initialized_database), transaction_idle_seconds=1)
    probe = Probe(make_client(engine, initialized_database), idle_seconds=1)
    probe.run()
    engine.close()
    assert probe.leftovers == ["alex_probe_deadbeef"]
    with psycopg.connect(pg_server.dsn(initialized_database)) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'alex_probe%'")}
    assert tables == {"alex_probes_are_not_ours"}
