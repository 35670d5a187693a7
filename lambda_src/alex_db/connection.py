"""Where a client's ARNs come from: environment, a deployed stack's outputs; and the boto3 rds-data client."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from alex_db.errors import ConfigurationError

ENV_CLUSTER_ARN, ENV_SECRET_ARN, ENV_DATABASE = "AURORA_CLUSTER_ARN", "AURORA_SECRET_ARN", "AURORA_DATABASE"
ENV_REGIONS = ("AWS_REGION", "AWS_DEFAULT_REGION")  # Lambda sets the first, the AWS CLI's config the second
DEFAULT_DATABASE = "alex"
STACK_OUTPUTS = {"resource_arn": "ClusterArn", "secret_arn": "SecretArn", "database": "DatabaseName"}


def boto3_rds_data_client(region_name: str | None = None) -> Any:
    """boto3's rds-data client, set up so that a statement is sent exactly once.

    botocore's own retries resend a request after a 5xx or a dropped connection, which can run a
    non-idempotent statement twice; they are off, and DataApiClient retries only error codes where
    the statement provably did not run. The read timeout is above the Data API's 45 s statement
    timeout so a slow call is never abandoned while it still runs.
    """
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=65, connect_timeout=10, retries={"total_max_attempts": 1})
    return boto3.client("rds-data", region_name=region_name or region_from_env(), config=config)


def region_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return next((env[name] for name in ENV_REGIONS if env.get(name)), None)


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """resource_arn, secret_arn and database from AURORA_* variables; one error naming what is missing."""
    env = os.environ if environ is None else environ
    missing = [name for name in (ENV_CLUSTER_ARN, ENV_SECRET_ARN) if not env.get(name)]
    if missing:
        raise ConfigurationError(
            f"environment variable(s) {', '.join(missing)} not set (looked for {ENV_CLUSTER_ARN}, "
            f"{ENV_SECRET_ARN}, {ENV_DATABASE}); set them to the AlexDatabase stack's ClusterArn/SecretArn "
            f"outputs, pass cluster_arn=/secret_arn=, or use DataApiClient.from_stack('AlexDatabase-dev')"
        )
    return {
        "resource_arn": env[ENV_CLUSTER_ARN],
        "secret_arn": env[ENV_SECRET_ARN],
        "database": env.get(ENV_DATABASE) or DEFAULT_DATABASE,
    }


def describe_stack(stack_name: str, *, cloudformation: Any | None = None) -> dict[str, Any]:
    """The stack as CloudFormation describes it (outputs, tags, status)."""
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation")
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        raise ConfigurationError(
            f"cannot read stack {stack_name!r}: {exc.response['Error'].get('Message', exc)} "
            "(is it deployed in this account/region, and are AWS credentials set?)"
        ) from exc


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    """resource_arn, secret_arn and database from a described stack's outputs."""
    name = stack.get("StackName", "?")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    missing = [key for key in STACK_OUTPUTS.values() if key not in outputs]
    if missing:
        raise ConfigurationError(
            f"stack {name!r} has no output(s) {', '.join(missing)} (looked for "
            f"{', '.join(STACK_OUTPUTS.values())}); is it an AlexDatabase stack?"
        )
    return {arg: outputs[key] for arg, key in STACK_OUTPUTS.items()}


def stack_outputs(stack_name: str, *, cloudformation: Any | None = None) -> dict[str, str]:
    """resource_arn, secret_arn and database from a deployed stack's outputs."""
    return outputs_of(describe_stack(stack_name, cloudformation=cloudformation))
