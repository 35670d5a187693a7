"""Which database a CLI command talks to: the local embedded server, a deployed stack, or explicit ARNs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient
from alex_db.connection import ENV_CLUSTER_ARN, ENV_SECRET_ARN, boto3_rds_data_client, describe_stack, outputs_of

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_DATABASE = 0, 1, 2, 3
LOCAL_DATABASE = "alex"


class CliError(Exception):
    """A usage or precondition error: one line, a hint, an exit code."""

    def __init__(self, message: str, hint: str | None = None, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.hint, self.code = hint, code


def cloudformation_client() -> Any:  # replaced in tests by a botocore Stubber'd client
    import boto3

    return boto3.client("cloudformation")


def rds_data_client() -> Any:  # replaced in tests by LocalDataApi
    return boto3_rds_data_client()


def rds_client() -> Any:  # replaced in tests by a botocore Stubber'd client
    import boto3

    return boto3.client("rds")


PROFILE_OUTPUT, PROFILE_TAG, ADMIN_SECRET_OUTPUT = "Profile", "alex:profile", "AdminSecretArn"


def _not_prod() -> str | None:
    return None


@dataclass
class Target:
    label: str
    client: DataApiClient
    # Why this target is prod (read from AWS when asked: only destructive commands ask), or None.
    prod_reason: Callable[[], str | None] = _not_prod
    app_secret_arn: str | None = None  # the agents' secret, when the target has one (stacks)


def cluster_prod_reason(cluster_arn: str) -> str | None:
    """Prod when the cluster says so: deletion protection on, or its alex:profile tag is prod."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = cluster_arn.rsplit(":", 1)[-1]
    try:
        cluster = rds_client().describe_db_clusters(DBClusterIdentifier=cluster_arn)["DBClusters"][0]
    except ClientError as exc:
        return (
            f"cannot tell whether cluster {name} is prod ({exc.response['Error'].get('Code')}: rds:DescribeDBClusters)"
        )
    except BotoCoreError as exc:
        return f"cannot tell whether cluster {name} is prod ({exc})"
    if cluster.get("DeletionProtection"):
        return f"cluster {name} has deletion protection on"
    tags = {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}
    if tags.get(PROFILE_TAG) == "prod":
        return f"cluster {name} is tagged {PROFILE_TAG}=prod"
    return None


def stack_prod_reason(stack: dict[str, Any], cluster_arn: str) -> str | None:
    """Prod when the stack's Profile output or alex:profile tag says prod, or its cluster does."""
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    name = stack.get("StackName", "?")
    if outputs.get(PROFILE_OUTPUT) == "prod":
        return f"stack {name}'s {PROFILE_OUTPUT} output is prod"
    if tags.get(PROFILE_TAG) == "prod":
        return f"stack {name} is tagged {PROFILE_TAG}=prod"
    return cluster_prod_reason(cluster_arn)


def local_data_dir(directory: str) -> Path:
    return Path(directory).expanduser().resolve() / "pgdata"


def start_local(directory: str, *, create: bool) -> tuple[Any, str]:
    """Start (or reuse) the embedded server of `directory`; returns (server, dsn of the alex database)."""
    import psycopg

    from alex_db.devtools.embedded import server_running, start_server

    data_dir = local_data_dir(directory)
    if not create and not (data_dir / "PG_VERSION").exists():
        raise CliError(f"no local database in {directory}", hint=f"create it with `alex-db local up --dir {directory}`")
    if not create and not server_running(data_dir):
        print(f"starting the local PostgreSQL in {directory} (stop it with `make local-down`)", file=sys.stderr)
    # Two `local up` on a fresh directory would race through initdb and CREATE DATABASE: one at a time.
    with directory_lock(data_dir.parent):
        server = start_server(data_dir, persistent=True)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (LOCAL_DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{LOCAL_DATABASE}"')
    return server, server.dsn(LOCAL_DATABASE)


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on `directory` for this process (released on exit, even a crash)."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".alex-db.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_client(dsn: str) -> DataApiClient:
    from alex_db.devtools.local_engine import local_client as client_on

    return client_on(dsn, database=LOCAL_DATABASE)


def resolve_target(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Target:
    env = os.environ if environ is None else environ
    chosen = [name for name, given in (("--local", args.local), ("--stack", args.stack),
                                        ("--cluster-arn", args.cluster_arn)) if given]  # fmt: skip
    if len(chosen) > 1:
        raise CliError(
            f"choose one target, got {' and '.join(chosen)}", hint="pass exactly one of --local, --stack, --cluster-arn"
        )
    if args.local:
        _, dsn = start_local(args.dir, create=False)
        return Target(f"local database in {args.dir}", local_client(dsn))
    if args.stack:
        stack = describe_stack(args.stack, cloudformation=cloudformation_client())
        outputs = outputs_of(stack)
        # Schema tooling logs in as the master user; agents get SecretArn (the DML-only app role).
        admin = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}.get(ADMIN_SECRET_OUTPUT)
        app_secret = outputs["secret_arn"] if admin else None
        if admin:
            outputs["secret_arn"] = admin
            print(f"using the admin secret ({ADMIN_SECRET_OUTPUT} of {args.stack})", file=sys.stderr)
        else:
            print(f"using {args.stack}'s SecretArn (the stack has no {ADMIN_SECRET_OUTPUT} output)", file=sys.stderr)
        client = DataApiClient(rds_data_client(), **outputs)
        return Target(
            f"stack {args.stack}",
            client,
            prod_reason=lambda: stack_prod_reason(stack, outputs["resource_arn"]),
            app_secret_arn=app_secret,
        )
    flags = {ENV_CLUSTER_ARN: args.cluster_arn, ENV_SECRET_ARN: args.secret_arn, "AURORA_DATABASE": args.database}
    merged = {**env, **{name: value for name, value in flags.items() if value}}
    if not merged.get(ENV_CLUSTER_ARN) or not merged.get(ENV_SECRET_ARN):
        raise CliError(
            "no database target given",
            hint=f"use --local, --stack AlexDatabase-dev, or --cluster-arn/--secret-arn "
            f"(or set {ENV_CLUSTER_ARN} and {ENV_SECRET_ARN})",
        )
    client = DataApiClient.from_env(api=rds_data_client(), environ=merged)
    cluster = client.resource_arn.rsplit(":", 1)[-1]
    source = "--secret-arn" if args.secret_arn else ENV_SECRET_ARN
    print(f"using the secret from {source}: migrate/reset/verify need the admin (AdminSecretArn) one", file=sys.stderr)
    return Target(f"cluster {cluster}", client, prod_reason=lambda: cluster_prod_reason(client.resource_arn))
