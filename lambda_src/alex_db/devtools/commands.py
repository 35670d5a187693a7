"""The `alex-db` subcommands: each calls one library function, prints its result and returns an exit code."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient
from alex_db.devtools.targets import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Target,
    local_client,
    local_data_dir,
    start_local,
)


def default_project_dir() -> Path:
    """The repository that holds migrations/ and seed/: this checkout when installed with -e, else cwd."""
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "migrations").is_dir() else Path.cwd()


def project_dir(given: Path | None, name: str) -> Path:
    return given or default_project_dir() / name


def load_manifest_from(args: argparse.Namespace) -> dict[str, Any]:
    from alex_db.authoring.manifest_builder import build_manifest

    return build_manifest(project_dir(args.migrations_dir, "migrations"), project_dir(args.seed_dir, "seed"))


def load_snapshot_from(args: argparse.Namespace) -> dict[str, Any]:
    from alex_db.authoring.schema_snapshot import read_snapshot

    try:
        return read_snapshot(project_dir(args.migrations_dir, "migrations"))
    except FileNotFoundError as exc:
        raise CliError(str(exc), hint="run `make schema` and commit migrations/schema_snapshot.json") from None


LOCAL_APP_ROLE = "alex_app"


def local_app_secret(directory: str) -> tuple[Any, str, dict[str, str]]:
    """The local app secret in <dir>/secrets.json (created on first use): (store, its ARN, current login)."""
    import secrets

    from botocore.exceptions import ClientError

    from alex_db.deploy.app_role import login_users
    from alex_db.devtools.local_secrets import LocalSecretsError, LocalSecretsManager

    store = LocalSecretsManager(Path(directory).expanduser().resolve() / "secrets.json")
    try:
        current = store.get_secret_value(SecretId="alex-app")
    except ClientError:  # ResourceNotFoundException: the first `local up` in this directory
        value = json.dumps({"username": login_users(LOCAL_APP_ROLE)[0], "password": secrets.token_urlsafe(30)})
        store.create_secret(Name="alex-app", SecretString=value)
        current = store.get_secret_value(SecretId="alex-app")
    try:
        credentials = json.loads(current["SecretString"])
    except json.JSONDecodeError:
        credentials = None
    users = login_users(LOCAL_APP_ROLE)
    if not isinstance(credentials, dict) or credentials.get("username") not in users or not credentials.get("password"):
        shown = credentials.get("username") if isinstance(credentials, dict) else None
        raise LocalSecretsError(
            f"{store.path}: the app secret must name {users[0]} or {users[1]} with a password (it names {shown!r})",
            f"delete {store.path} and run `alex-db local up --dir {directory}` again: a new password is set",
        )
    return store, current["ARN"], credentials


def with_login(dsn: str, credentials: dict[str, str]) -> str:
    """`dsn` (a postgresql:// URL) logging in as the given user and password."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(credentials['username'])}:{quote(credentials['password'])}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def cmd_local(args: argparse.Namespace) -> int:
    from alex_db.deploy.runner import AppRole, initialize
    from alex_db.devtools.embedded import postmaster_pid, require_scram, server_running, stop_server

    data_dir = local_data_dir(args.dir)
    if args.action == "down":
        pid = postmaster_pid(data_dir)
        stopped = stop_server(data_dir)
        if stopped:
            print(f"stopped the local PostgreSQL in {args.dir}")
        elif pid is not None:
            print(f"no local PostgreSQL running in {args.dir}: postmaster.pid names PID {pid}, which is not this "
                  "directory's postgres (nothing was signalled)")  # fmt: skip
        else:
            print(f"no local PostgreSQL running in {args.dir}")
        return EXIT_OK
    if args.action == "url":
        if not server_running(data_dir):
            raise CliError(
                f"no local PostgreSQL running in {args.dir}", hint=f"start it with `alex-db local up --dir {args.dir}`"
            )
        _, dsn = start_local(args.dir, create=False)
        print(dsn)
        return EXIT_OK
    manifest = load_manifest_from(args)
    server, dsn = start_local(args.dir, create=True)
    client = local_client(dsn)
    version = client.query_one("SELECT current_setting('server_version') AS v")["v"]
    print(f"local PostgreSQL {version} running, data in {data_dir}")
    _, _, app_credentials = local_app_secret(args.dir)
    summary = initialize(client, manifest, app_role=AppRole(LOCAL_APP_ROLE, app_credentials))
    require_scram(server, f"+{LOCAL_APP_ROLE}")
    print(f"instruments: {summary.instruments}")
    print(f"admin:       psql '{dsn}'")
    print(f"app:         psql '{with_login(dsn, app_credentials)}'   (the agents' DML-only role)")
    print("python:")
    print("    from alex_db.devtools.local_engine import local_client")
    print(f'    client = local_client("{dsn}")')
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


def cmd_status(args: argparse.Namespace, target: Target) -> int:
    from alex_db.devtools.status import status_report

    report = status_report(target.client, load_manifest_from(args), load_snapshot_from(args))
    mismatch = any(m.get("checksum") == "MISMATCH" for m in report["migrations"])
    if args.json:
        print(json.dumps({"target": target.label, **report}, indent=2))
        return EXIT_CHECK_FAILED if mismatch else EXIT_OK
    print(f"{target.label}: schema version {report['schema_version']}, {len(report['pending'])} pending")
    for m in report["migrations"]:
        if m["status"] == "pending":
            print(f"  {m['version']:04d} {m['name']:<32} pending")
        elif m["status"] == "running":
            print(f"  {m['version']:04d} {m['name']:<32} running: {m['progress']}")
        else:
            print(f"  {m['version']:04d} {m['name']:<32} applied {m['applied_at'][:19]}  checksum {m['checksum']}")
    if "drift" in report:
        drift = report["drift"]
        print(f"drift: {len(drift)} difference(s) from the snapshot (see `alex-db verify`)" if drift else "drift: none")
    print("rows:")
    for table, count in report["tables"].items():
        print(f"  {table:<18} {count}")
    return EXIT_CHECK_FAILED if mismatch else EXIT_OK


def cmd_migrate(args: argparse.Namespace, target: Target) -> int:
    from alex_db.deploy.apply import apply, read_applied
    from alex_db.deploy.manifest import migrations_of
    from alex_db.deploy.plan import plan

    current = plan(read_applied(target.client), migrations_of(load_manifest_from(args)))
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
    from alex_db.deploy.seed import upsert_instruments

    rows = upsert_instruments(target.client, load_manifest_from(args)["seed"]["instruments"])
    print(f"upserted {rows} instruments into {target.label}")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace, target: Target) -> int:
    from alex_db.devtools.reset import reset_database
    from alex_db.devtools.sample_data import load_test_data, read_test_data

    reason = target.prod_reason()
    if reason and not args.force_prod:
        raise CliError(f"refusing to reset {target.label}: {reason}", hint="add --force-prod if you mean it")
    manifest = load_manifest_from(args)
    if args.dry_run:
        reset_database(target.client, manifest, dry_run=True)
        return EXIT_OK
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
    reset_database(target.client, manifest)
    if test_data is not None:
        loaded = load_test_data(target.client, test_data)
        print(f"test data: user {loaded['user']}, {loaded['accounts']} accounts, {loaded['positions']} positions")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, target: Target) -> int:
    from alex_db.devtools.verify import role_setting_drift, schema_drift, seed_checks, shipped_schema_drift

    snapshot = load_snapshot_from(args)
    symbols = [i["symbol"] for i in load_manifest_from(args)["seed"]["instruments"]]
    drifts = (
        schema_drift(target.client, snapshot)
        + shipped_schema_drift(snapshot)
        + role_setting_drift(target.client, args.app_role)
    )
    for drift in drifts:
        print(f"  {'DRIFT' if drift.severity == 'error' else 'WARN '}  {drift.message}")
    errors = [d for d in drifts if d.severity == "error"]
    print(f"schema: {len(errors)} difference(s) from the snapshot, {len(drifts) - len(errors)} warning(s)")
    checks = seed_checks(target.client, symbols) if "instruments" in snapshot["tables"] else []
    for check in checks:
        print(f"  {'PASS' if check.ok else 'FAIL'}  {check.name}  {check.detail}".rstrip())
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)}/{len(checks)} seed checks passed on {target.label}")
    return EXIT_CHECK_FAILED if errors or failed else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from alex_db.authoring.erd import mermaid, with_readme_erd
    from alex_db.authoring.schema_snapshot import SHIPPED_SCHEMA_MODULE, render, render_shipped_schema, snapshot_path

    if args.write:
        snapshot = scratch_snapshot(args)
        path = snapshot_path(project_dir(args.migrations_dir, "migrations"))
        path.write_text(render(snapshot), encoding="utf-8")
        print(f"wrote {path} ({len(snapshot['tables'])} tables, {len(snapshot['functions'])} functions)")
        readme = path.parent.parent / "docs" / "design.md"  # the page that shows the ERD
        if readme.exists():
            readme.write_text(with_readme_erd(readme.read_text(encoding="utf-8"), mermaid(snapshot)), encoding="utf-8")
            print(f"updated the ERD in {readme}")
        shipped = path.parent.parent / SHIPPED_SCHEMA_MODULE  # the column types agents' clients use
        if shipped.parent.is_dir():
            shipped.write_text(render_shipped_schema(snapshot), encoding="utf-8")
            print(f"wrote {shipped}")
        return EXIT_OK
    snapshot = load_snapshot_from(args)
    print(mermaid(snapshot) if args.mermaid else render(snapshot), end="")
    return EXIT_OK


def scratch_snapshot(args: argparse.Namespace) -> dict[str, Any]:
    """Apply every migration to a throwaway embedded PostgreSQL and capture its catalog."""
    from alex_db.authoring.schema_snapshot import capture
    from alex_db.deploy.runner import initialize
    from alex_db.devtools.embedded import stop_server

    manifest = load_manifest_from(args)
    with tempfile.TemporaryDirectory(prefix="alex-schema-") as scratch:
        try:
            _, dsn = start_local(scratch, create=True)
            client = local_client(dsn)
            initialize(client, manifest, progress=lambda _line: None)
            snapshot = capture(client)
            client.api.close()
        finally:
            stop_server(local_data_dir(scratch))
    return snapshot


def cmd_probe(args: argparse.Namespace, target: Target) -> int:
    from alex_db.devtools.local_engine import LocalDataApi
    from alex_db.devtools.probe import Probe, as_json, render

    if args.json_path and not args.json_path.expanduser().resolve().parent.is_dir():
        raise CliError(  # checked before a probe that can take minutes, not after it
            f"--json {args.json_path}: directory {args.json_path.expanduser().resolve().parent} does not exist",
            hint="create the directory or pass another path",
            code=EXIT_USAGE,
        )

    client, app_client, idle = target.client, None, None
    if isinstance(client.api, LocalDataApi):
        # Locally the clock is scaled (a 2 s idle expiry) and a pause is simulated, so every probe runs.
        dsn = client.api.dsn
        engine = LocalDataApi(dsn, transaction_idle_seconds=2)
        engine.inject_fault("DatabaseResumingException", times=2)
        client = DataApiClient(engine, resource_arn=client.resource_arn, secret_arn=client.secret_arn,
                               database=client.database)  # fmt: skip
        store, app_arn, _ = local_app_secret(args.dir)
        app_client = DataApiClient(LocalDataApi(dsn, secrets=store), resource_arn=client.resource_arn,
                                   secret_arn=app_arn, database=client.database)  # fmt: skip
        idle = 2.0
    elif target.app_secret_arn:
        app_client = DataApiClient(client.api, resource_arn=client.resource_arn, secret_arn=target.app_secret_arn,
                                   database=client.database)  # fmt: skip
    probe = Probe(client, app_client=app_client, slow=args.slow, **({"idle_seconds": idle} if idle else {}))
    observations = probe.run()
    if probe.leftovers:
        print(f"removed {len(probe.leftovers)} scratch table(s) left by an earlier run: {', '.join(probe.leftovers)}")
    print(render(observations))
    name = "local" if args.local else (args.stack or client.resource_arn.rsplit(":", 1)[-1])
    path = args.json_path or Path(f"probe-{name}.json")
    path.write_text(as_json(target.label, observations) + "\n")
    failed = [o for o in observations if o.verdict == "FAIL"]
    informational = [o for o in observations if o.verdict == "INFO"]
    print(
        f"{len(observations) - len(failed) - len(informational)}/{len(observations)} as expected on {target.label}; "
        f"{len(failed)} confirmed expectation(s) failed, {len(informational)} unconfirmed differ (INFO); JSON in {path}"
    )
    if informational:
        print("hint: INFO rows are guesses AWS does not document: record what the target did in docs/aws-facts.md")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


COMMANDS = {
    "probe": cmd_probe,
    "test-connection": cmd_test_connection,
    "status": cmd_status,
    "migrate": cmd_migrate,
    "seed": cmd_seed,
    "reset": cmd_reset,
    "verify": cmd_verify,
}
