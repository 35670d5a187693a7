"""Which database a CLI command talks to: the local embedded server, a deployed stack, or explicit ARNs."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alex_db.client import DataApiClient
from alex_db.connection import ENV_CLUSTER_ARN, ENV_SECRET_ARN, boto3_rds_data_client, stack_outputs

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

    from alex_db.devtools.embedded import server_running, start_server

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
        raise CliError(f"choose one target, got {' and '.join(chosen)}", hint="pass exactly one of them")
    if args.local:
        _, dsn = start_local(args.dir, create=False)
        return Target(f"local database in {args.dir}", local_client(dsn))
    if args.stack:
        outputs = stack_outputs(args.stack, cloudformation=cloudformation_client())
        client = DataApiClient(rds_data_client(), **outputs)
        return Target(f"stack {args.stack}", client, is_prod=args.stack.lower().endswith("-prod"))
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
    return Target(f"cluster {cluster}", client, is_prod="prod" in cluster)
