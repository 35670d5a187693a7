"""Shared fixtures: one embedded PostgreSQL per test session (per xdist worker), a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from alex_db.client import DataApiClient, RetryPolicy
from alex_db.devtools.embedded import DURABLE_ENV, LocalServer, start_server, stop_server
from alex_db.devtools.local_engine import LocalDataApi
from tests.temp_root import is_session_root, session_temp_root

# Every server the tests start (here and in `alex-db local up` subprocesses) skips fsync.
os.environ[DURABLE_ENV] = "0"
ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = ROOT / "migrations"
SEED_DIR = ROOT / "seed"
CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:alex-test"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:alex-test-AbCdEf"


def pytest_configure(config: pytest.Config) -> None:
    # This session's tmp_path root: on tmpfs, and its own (tests/temp_root.py says why); kept when the
    # user set one. xdist workers (config.workerinput) get their directory from the controller. An
    # inherited root is another session's: a pytest run by a test makes its own.
    inherited = os.environ.get("PYTEST_DEBUG_TEMPROOT", "")
    if not hasattr(config, "workerinput") and (not inherited or is_session_root(inherited)):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(session_temp_root())


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> Iterator[LocalServer]:
    server = start_server(tmp_path_factory.mktemp("pg") / "data", persistent=False)
    yield server
    # Stopped here, before pytest removes the temp directory it lives in.
    stop_server(server.data_dir)


def create_database(server: LocalServer, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    # FILE_COPY copies the template's files instead of WAL-logging every block: 13 ms instead of
    # 38 ms here (https://www.postgresql.org/docs/current/sql-createdatabase.html, STRATEGY).
    clone = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clone}')
    return name


def drop_database(server: LocalServer, name: str) -> None:
    """Drop a test's database (FORCE ends sessions a test left open), so a run holds a few, not 400."""
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(pg_server) -> Iterator[str]:
    """An empty database of its own for this test."""
    name = create_database(pg_server)
    yield name
    drop_database(pg_server, name)


@pytest.fixture
def api(pg_server, database) -> Iterator[LocalDataApi]:
    engine = LocalDataApi(pg_server.dsn(database))
    yield engine
    engine.close()


class RecordingSleep:
    """Stands in for time.sleep in retry tests: records delays and advances a fake clock."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeper() -> RecordingSleep:
    return RecordingSleep()


def make_client(api: LocalDataApi, database: str, sleeper: RecordingSleep | None = None, **kwargs) -> DataApiClient:
    sleeper = sleeper or RecordingSleep()
    return DataApiClient(
        api,
        resource_arn=CLUSTER_ARN,
        secret_arn=SECRET_ARN,
        database=database,
        sleep=sleeper,
        clock=sleeper.clock,
        **kwargs,
    )


@pytest.fixture
def client(api, database, sleeper) -> DataApiClient:
    return make_client(api, database, sleeper, retry=RetryPolicy(budget_seconds=60))


@pytest.fixture(scope="session")
def manifest() -> dict:
    from alex_db.authoring.manifest_builder import build_manifest

    return build_manifest(MIGRATIONS_DIR, SEED_DIR)


@pytest.fixture(scope="session")
def initialized_template(pg_server, manifest) -> str:
    """A database initialised once through the real init path; tests clone it (fast) instead."""
    from alex_db.deploy.runner import initialize

    name = create_database(pg_server)
    engine = LocalDataApi(pg_server.dsn(name))
    try:
        initialize(make_client(engine, name), manifest, progress=lambda _line: None)
    finally:
        engine.close()
    return name


@pytest.fixture
def initialized_database(pg_server, initialized_template) -> Iterator[str]:
    name = create_database(pg_server, template=initialized_template)
    yield name
    drop_database(pg_server, name)


@pytest.fixture
def db_api(pg_server, initialized_database) -> Iterator[LocalDataApi]:
    engine = LocalDataApi(pg_server.dsn(initialized_database))
    yield engine
    engine.close()


@pytest.fixture
def db_client(db_api, initialized_database, sleeper) -> DataApiClient:
    """A client on a migrated and seeded database of this test's own."""
    return make_client(db_api, initialized_database, sleeper)
