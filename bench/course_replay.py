"""Replay the course's web app session and test_scale.py flow on a package (alex_db or the course's own) and count.

`python bench/course_replay.py --course <alex checkout>/backend/database` measures the course's own
package (its `src`: Database, DataAPIClient, schemas) on LocalDataApi over the same migrated and
seeded embedded PostgreSQL, and writes bench/course_figures.json; `make bench` compares alex_db
with those recorded figures (the course's code is not part of this repository, so it is measured
once and the figures committed, with the commit they came from).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

from bench.course_routes import SCALE_CONFIGS, CourseWebApp, frontend_session, scale_user  # noqa: E402

FIGURES = ROOT / "bench" / "course_figures.json"
CLUSTER_ARN = "arn:aws:rds:us-east-1:000000000000:cluster:bench"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench"


def migrated_database(server: Any, manifest: dict) -> tuple[Any, str]:
    """A new database on `server`, migrated and seeded through the real init path; (LocalDataApi, name)."""
    import psycopg

    from alex_db.client import DataApiClient
    from alex_db.deploy.runner import initialize
    from alex_db.devtools.local_engine import LocalDataApi

    name = f"replay_{time.monotonic_ns()}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    api = LocalDataApi(server.dsn(name))
    client = DataApiClient(api, resource_arn=CLUSTER_ARN, secret_arn=SECRET_ARN, database=name)
    initialize(client, manifest, progress=lambda _line: None)
    api.reset_counts()
    return api, name


def replay(make_db: Callable[[], Any], schemas: Any, api: Any) -> dict[str, Any]:
    """The session's steps and the scale flow's calls and local wall time per user, on a fresh `make_db()`."""
    calls = lambda: sum(api.calls.values())  # noqa: E731
    db = make_db()  # a cold start: the first Database() of a Lambda
    steps = frontend_session(CourseWebApp(db, schemas), "user_replay", calls)
    catalog_calls = sum("information_schema" in sql for sql in api.statements)
    times, scale_calls = [], []
    for round_number in range(3):
        for user_num, (accounts, positions) in enumerate(SCALE_CONFIGS, start=1):
            before, started = calls(), time.perf_counter()
            scale_user(make_db(), f"scale_{round_number}_{user_num}", user_num, accounts, positions)  # Database() each
            times.append(time.perf_counter() - started)
            scale_calls.append(calls() - before)
    return {
        "session": [[s.label, s.route, s.status, s.calls] for s in steps],
        "scale_calls_per_user": scale_calls[: len(SCALE_CONFIGS)],
        "scale_ms_per_user_median": round(statistics.median(times) * 1000, 1),
        "catalog_calls_at_cold_start": catalog_calls,
    }


def alex_db_replay(server: Any, manifest: dict) -> dict[str, Any]:
    from alex_db import Database, schemas
    from alex_db.client import DataApiClient

    api, name = migrated_database(server, manifest)
    try:
        make_db = lambda: Database(DataApiClient(api, resource_arn=CLUSTER_ARN, secret_arn=SECRET_ARN, database=name))  # noqa: E731
        return replay(make_db, schemas, api)
    finally:
        api.close()


def course_replay(server: Any, manifest: dict, course_dir: Path) -> dict[str, Any]:
    """The course's own package on the same engine: boto3.client('rds-data') answers with LocalDataApi."""
    import os

    import boto3

    api, name = migrated_database(server, manifest)
    os.environ.update(AURORA_CLUSTER_ARN=CLUSTER_ARN, AURORA_SECRET_ARN=SECRET_ARN, AURORA_DATABASE=name)
    boto3.client = lambda service, **_kwargs: api if service == "rds-data" else None  # type: ignore[assignment]
    sys.path.insert(0, str(course_dir))
    from src import Database, schemas  # the course's package

    try:
        return replay(Database, schemas, api)
    finally:
        api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, required=True, help="the course's backend/database directory")
    parser.add_argument("--commit", default="", help="the course commit measured (default: git rev-parse HEAD there)")
    args = parser.parse_args()
    from alex_db.authoring.manifest_builder import build_manifest
    from alex_db.devtools.embedded import start_server, stop_server

    git = ["git", "-C", str(args.course), "rev-parse", "HEAD"]
    commit = args.commit or subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    manifest = build_manifest(ROOT / "migrations", ROOT / "seed")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "pg", persistent=False)
        try:
            figures = course_replay(server, manifest, args.course.resolve())
        finally:
            stop_server(server.data_dir)
    figures = {
        "how": "python bench/course_replay.py --course <ed-donner/alex>/backend/database: the course's own package "
        "(unchanged) on LocalDataApi over this repository's migrated and seeded schema, same replay as make bench",
        "course_commit": commit or "unknown",
        **figures,
    }
    FIGURES.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FIGURES}: {sum(s[3] for s in figures['session'])} calls over {len(figures['session'])} requests")


if __name__ == "__main__":
    main()
