"""Two test sessions at once (`make test` runs two; CI and a developer may add more) keep each other's servers."""

from __future__ import annotations

import subprocess
import sys

import psycopg

from tests.conftest import ROOT


def test_a_second_session_leaves_the_servers_of_this_one_running(pg_server, tmp_path):
    # Before, every session shared <tmp>/pytest-of-<user>, which pytest makes private (0700) when a
    # session starts: the embedded server (its own OS user, as root) lost its data directory and
    # PANICked on global/pg_control (tests/temp_root.py).
    other = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/unit/test_migrations_plan.py::test_checksum_is_of_the_file_bytes"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert other.returncode == 0, other.stdout + other.stderr
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # writes global/pg_control, where the server PANICked
        assert conn.execute("SELECT count(*) FROM pg_class").fetchone()[0] > 0
    assert tmp_path.is_dir()
