"""`alex-db`: inspect and manage the Alex database, local (embedded PostgreSQL) or deployed (Data API).

Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error, 3 database error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alex_db.client import (
    ENV_CLUSTER_ARN,
    ENV_DATABASE,
    ENV_SECRET_ARN,
    ConfigurationError,
    DataApiClient,
    DataApiError,
    DatabaseNotReadyError,
    boto3_rds_data_client,
)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3
LOCAL_DATABASE = "alex"
PROJECT_TABLES = ("users", "instruments", "accounts", "positions", "jobs", "schema_migrations")


class CliError(Exception):
    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.hint, self.code = hint, code


def cloudformation_client() -> Any:  # replaced in tests by a botocore Stubber'd client
    import boto3

    return boto3.client("cloudformation")


def rds_data_client() -> Any:  # replaced in tests by LocalDataApi
    return boto3_rds_data_client()


def default_project_dir() -> Path:
    """The repository that holds migrations/ and seed/: this checkout when installed with -e, else cwd."""
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "migrations").is_dir() else Path.cwd()


# -- targets ---------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    client: DataApiClient
    is_prod: bool = False


def local_data_dir(directory: str) -> Path:
    return Path(directory).expanduser().resolve() / "pgdata"


def start_local(directory: str, *, create: bool) -> tuple[Any, str]:
    """Start (or reuse) the embedded server of `directory`; returns (server, dsn of the alex database)."""
    import psycopg

    from alex_db.embedded import server_running, start_server

    data_dir = local_data_dir(directory)
    if not create and not (data_dir / "PG_VERSION").exists():
        raise CliError(f"no local database in {directory}", hint="create it with `make local` (or `alex-db local up`)")
    if not create and not server_running(data_dir):
        print(f"starting the local PostgreSQL in {directory} (stop it with `make local-down`)", file=sys.stderr)
    server = start_server(data_dir, persistent=True)
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (LOCAL_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{LOCAL_DATABASE}"')
    return server, server.dsn(LOCAL_DATABASE)


def local_client(dsn: str) -> DataApiClient:
    return DataApiClient.for_local(dsn, database=LOCAL_DATABASE)


def resolve_target(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Target:
    env = os.environ if environ is None else environ
    chosen = [name for name, given in (("--local", args.local), ("--stack", args.stack),
                                        ("--cluster-arn", args.cluster_arn)) if given]  # fmt: skip
    if len(chosen) > 1:
        raise CliError(f"choose one target, got {' and '.join(chosen)}")
    if args.local:
        _, dsn = start_local(args.dir, create=False)
        return Target(f"local database in {args.dir}", local_client(dsn))
    if args.stack:
        from alex_db.client import stack_outputs

        outputs = stack_outputs(args.stack, cloudformation=cloudformation_client())
        client = DataApiClient(rds_data_client(), **outputs)
        return Target(f"stack {args.stack}", client, is_prod=args.stack.lower().endswith("-prod"))
    flags = {ENV_CLUSTER_ARN: args.cluster_arn, ENV_SECRET_ARN: args.secret_arn, ENV_DATABASE: args.database}
    merged = {**env, **{name: value for name, value in flags.items() if value}}
    if not merged.get(ENV_CLUSTER_ARN) or not merged.get(ENV_SECRET_ARN):
        raise CliError(
            "no database target given",
            hint=f"use --local, --stack AlexDatabase-dev, or --cluster-arn/--secret-arn "
            f"(or set {ENV_CLUSTER_ARN} and {ENV_SECRET_ARN})",
        )
    client = DataApiClient.from_env(api=rds_data_client(), environ=merged)
    cluster = client.resource_arn.rsplit(":", 1)[-1]
    return Target(f"cluster {cluster}", client, is_prod="prod" in cluster)


def project_dir(given: Path | None, name: str) -> Path:
    return given or default_project_dir() / name


def load_manifest_from(args: argparse.Namespace) -> dict[str, Any]:
    from alex_db.manifest import build_manifest

    return build_manifest(project_dir(args.migrations_dir, "migrations"), project_dir(args.seed_dir, "seed"))


# -- commands --------------------------------------------------------------------------------


def cmd_local(args: argparse.Namespace) -> int:
    from alex_db.embedded import server_running, stop_server

    data_dir = local_data_dir(args.dir)
    if args.action == "down":
        stopped = stop_server(data_dir)
        print(
            f"stopped the local PostgreSQL in {args.dir}" if stopped else f"no local PostgreSQL running in {args.dir}"
        )
        return EXIT_OK
    if args.action == "url":
        if not server_running(data_dir):
            raise CliError(f"no local PostgreSQL running in {args.dir}", hint="start it with `make local`")
        _, dsn = start_local(args.dir, create=False)
        print(dsn)
        return EXIT_OK
    from alex_db.init import initialize

    manifest = load_manifest_from(args)
    _, dsn = start_local(args.dir, create=True)
    client = local_client(dsn)
    version = client.query_one("SELECT current_setting('server_version') AS v")["v"]
    print(f"local PostgreSQL {version} running, data in {data_dir}")
    summary = initialize(client, manifest)
    print(f"instruments: {summary.instruments}")
    print(f"connect:     psql '{dsn}'")
    print("python:")
    print("    from alex_db import DataApiClient")
    print(f'    client = DataApiClient.for_local("{dsn}")')
    print('    print(client.query("SELECT symbol, current_price FROM instruments ORDER BY symbol LIMIT 3"))')
    print("stop it with: make local-down")
    return EXIT_OK


def cmd_test_connection(args: argparse.Namespace, target: Target) -> int:
    started = time.monotonic()
    row = target.client.query_one("SELECT version() AS version, current_database() AS database")
    elapsed = (time.monotonic() - started) * 1000
    assert row is not None
    print(f"connected to {target.label}: database {row['database']}")
    print(f"server: {row['version']}")
    print(f"round trip: {elapsed:.0f} ms")
    return EXIT_OK


def status_report(client: DataApiClient, manifest: dict[str, Any]) -> dict[str, Any]:
    from alex_db.manifest import migrations_of
    from alex_db.migrations import HISTORY_EXISTS, READ_HISTORY

    available = {m.version: m for m in migrations_of(manifest)}
    # Not migrations.read_applied: status must not create the history table on a fresh database.
    exists = client.query_one(HISTORY_EXISTS)
    history = client.query(READ_HISTORY) if exists and exists["present"] else []
    applied = {r["version"]: r for r in history}
    migrations = []
    for version in sorted(set(available) | set(applied)):
        record, file = applied.get(version), available.get(version)
        entry: dict[str, Any] = {"version": version, "name": file.name if file else record["name"]}
        if record is None:
            entry["status"] = "pending"
        else:
            entry["status"] = "applied"
            entry["applied_at"] = record["applied_at"].isoformat()
            entry["duration_ms"] = record["duration_ms"]
            entry["checksum"] = (
                "unknown file" if file is None else "ok" if record["checksum"].strip() == file.checksum else "MISMATCH"
            )
        migrations.append(entry)
    present = {r["t"] for r in client.query("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")}
    counts = {t: client.query_one(f'SELECT count(*) AS n FROM "{t}"')["n"] for t in PROJECT_TABLES if t in present}
    return {
        "schema_version": max(applied, default=0),
        "migrations": migrations,
        "pending": [f"{m['version']:04d}_{m['name']}" for m in migrations if m["status"] == "pending"],
        "tables": counts,
    }


def cmd_status(args: argparse.Namespace, target: Target) -> int:
    report = status_report(target.client, load_manifest_from(args))
    mismatch = any(m.get("checksum") == "MISMATCH" for m in report["migrations"])
    if args.json:
        print(json.dumps({"target": target.label, **report}, indent=2))
        return EXIT_CHECK_FAILED if mismatch else EXIT_OK
    print(f"{target.label}: schema version {report['schema_version']}, {len(report['pending'])} pending")
    for m in report["migrations"]:
        if m["status"] == "pending":
            print(f"  {m['version']:04d} {m['name']:<32} pending")
        else:
            print(f"  {m['version']:04d} {m['name']:<32} applied {m['applied_at'][:19]}  checksum {m['checksum']}")
    print("rows:")
    for table, count in report["tables"].items():
        print(f"  {table:<18} {count}")
    return EXIT_CHECK_FAILED if mismatch else EXIT_OK


def cmd_migrate(args: argparse.Namespace, target: Target) -> int:
    from alex_db.manifest import migrations_of
    from alex_db.migrations import apply, plan, read_applied

    manifest = load_manifest_from(args)
    current = plan(read_applied(target.client), migrations_of(manifest))
    if current.database_ahead:
        raise CliError(
            f"{target.label} has migration(s) {current.unknown_applied} that this checkout does not",
            hint="update your checkout",
            code=EXIT_CHECK_FAILED,
        )
    if not current.pending:
        print(f"{target.label}: up to date, nothing to apply")
        return EXIT_OK
    print(f"applying {len(current.pending)} migration(s) to {target.label}:")
    apply(target.client, current.pending)
    return EXIT_OK


def cmd_seed(args: argparse.Namespace, target: Target) -> int:
    from alex_db.seed import upsert_instruments

    rows = upsert_instruments(target.client, load_manifest_from(args)["seed"]["instruments"])
    print(f"upserted {rows} instruments into {target.label}")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace, target: Target) -> int:
    from alex_db.init import initialize
    from alex_db.manifest import migrations_of
    from alex_db.reset import drop_statements, load_test_data, read_test_data

    if target.is_prod and not args.force_prod:
        raise CliError(
            f"refusing to reset {target.label}: it is a prod database", hint="add --force-prod if you mean it"
        )
    manifest = load_manifest_from(args)
    # Validate everything before dropping anything: a bad file must not leave an emptied database.
    test_data = None
    if args.with_test_data:
        symbols = {i["symbol"] for i in manifest["seed"]["instruments"]}
        test_data = read_test_data(project_dir(args.seed_dir, "seed") / "test_user.json", symbols)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"refusing to reset {target.label} without confirmation", hint="pass --yes")
        answer = input(f"Drop every Alex table and all data in {target.label}? Type 'yes': ")
        if answer.strip().lower() != "yes":
            print("reset cancelled")
            return EXIT_CHECK_FAILED
    with target.client.transaction() as tx:  # all or nothing: no half-dropped schema
        for statement in drop_statements(migrations_of(manifest)):
            tx.execute(statement)
    print(f"dropped the Alex schema in {target.label}")
    initialize(target.client, manifest)
    if test_data is not None:
        loaded = load_test_data(target.client, test_data)
        print(f"test data: user {loaded['user']}, {loaded['accounts']} accounts, {loaded['positions']} positions")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, target: Target) -> int:
    from alex_db.verify import run_checks

    symbols = [i["symbol"] for i in load_manifest_from(args)["seed"]["instruments"]]
    checks = run_checks(target.client, symbols)
    width = max(len(c.name) for c in checks)
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name:<{width}}  {check.detail}".rstrip())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)}/{len(checks)} checks passed on {target.label}")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


COMMANDS = {
    "test-connection": cmd_test_connection,
    "status": cmd_status,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "reset": cmd_reset,
    "verify": cmd_verify,
}


# -- parsing and errors ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    target = argparse.ArgumentParser(add_help=False)
    where = target.add_argument_group("target (exactly one; env vars as fallback)")
    where.add_argument("--local", action="store_true", help="the embedded local PostgreSQL")
    where.add_argument("--dir", default=".local", help="local data directory (default .local)")
    where.add_argument("--stack", help="a deployed stack, e.g. AlexDatabase-dev (reads its outputs)")
    where.add_argument("--cluster-arn", help=f"cluster ARN (env {ENV_CLUSTER_ARN})")
    where.add_argument("--secret-arn", help=f"secret ARN (env {ENV_SECRET_ARN})")
    where.add_argument("--database", help=f"database name (env {ENV_DATABASE}, default alex)")
    files = target.add_argument_group("project files")
    files.add_argument("--migrations-dir", type=Path, help="default: the checkout's migrations/")
    files.add_argument("--seed-dir", type=Path, help="default: the checkout's seed/")

    parser = argparse.ArgumentParser(prog="alex-db", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    local = sub.add_parser("local", parents=[target], help="start/initialise, stop or locate the local database")
    local.add_argument("action", choices=["up", "down", "url"])
    sub.add_parser("test-connection", parents=[target], help="server version and round-trip time")
    status = sub.add_parser("status", parents=[target], help="applied/pending migrations and row counts")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("migrate", parents=[target], help="apply pending migrations")
    sub.add_parser("seed", parents=[target], help="upsert the seed instruments")
    reset = sub.add_parser("reset", parents=[target], help="drop the Alex schema, migrate and seed again")
    reset.add_argument("--with-test-data", action="store_true", help="add the guide's test user, accounts, positions")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.add_argument("--force-prod", action="store_true", help="allow resetting a prod database")
    sub.add_parser("verify", parents=[target], help="check tables, columns, indexes, triggers, FKs and seed data")
    return parser


class _StderrLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "DatabaseResumingException" in message:
            message = f"the cluster is resuming from auto-pause; {message.split('; ', 1)[-1]}"
        print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from alex_db.manifest import SeedError
    from alex_db.migrations import ChecksumMismatch, MigrationError, MigrationFileError, OutOfOrderMigration
    from alex_db.reset import TestDataError

    args = build_parser().parse_args(argv)
    log = logging.getLogger("alex_db")
    if not any(isinstance(h, _StderrLines) for h in log.handlers):
        log.addHandler(_StderrLines(logging.WARNING))
    try:
        if args.command == "local":
            return cmd_local(args)
        return COMMANDS[args.command](args, resolve_target(args))
    except CliError as exc:
        return _fail(str(exc), exc.hint, exc.code)
    except (ConfigurationError, MigrationFileError, SeedError, TestDataError) as exc:
        return _fail(str(exc), "fix the configuration or files named above", EXIT_USAGE)
    except (ChecksumMismatch, OutOfOrderMigration) as exc:
        return _fail(str(exc), None, EXIT_CHECK_FAILED)
    except DatabaseNotReadyError as exc:
        return _fail(str(exc), "the cluster is still resuming or unavailable; try again in a minute", EXIT_DATABASE)
    except (DataApiError, MigrationError) as exc:
        return _fail(str(exc), None, EXIT_DATABASE)
    except Exception as exc:
        from botocore.exceptions import BotoCoreError

        if isinstance(exc, BotoCoreError):  # no credentials, no region, endpoint unreachable, ...
            return _fail(str(exc), "check AWS credentials and AWS_REGION (or use --local)", EXIT_USAGE)
        raise


def _fail(message: str, hint: str | None, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
