"""The project's Lambda functions share one shape: Python 3.14 on arm64, a stack-owned log group, a log-only role."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

# boto3 imports and JSON work are CPU-bound; 256 MB halves the cold start of 128 MB for ~nothing.
MEMORY_MB = 256


def log_only_role(scope: Construct, id: str, log_group: logs.LogGroup, description: str) -> iam.Role:
    """A Lambda role that may write to its own log group only (no AWSLambdaBasicExecutionRole)."""
    role = iam.Role(scope, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    role.add_to_policy(
        iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])
    )
    return role


def python_function(
    scope: Construct,
    id: str,
    *,
    handler: str,
    code: lambda_.Code,
    description: str,
    timeout: Duration,
    log_group: logs.LogGroup,
    role: iam.IRole,
    **kwargs: Any,
) -> lambda_.Function:
    """A function of this project: newest Python runtime on arm64 (cdk-nag L1), logging to `log_group`."""
    return lambda_.Function(
        scope,
        id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=code,
        timeout=timeout,
        memory_size=MEMORY_MB,
        log_group=log_group,
        role=role,
        **kwargs,
    )
