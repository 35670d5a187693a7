"""The project's Lambda functions share one shape: Python 3.14 on arm64, a stack-owned log group, a log-only role."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks import guardrails

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


def custom_resource_provider(
    scope: Construct,
    id: str,
    *,
    on_event: lambda_.Function,
    log_retention: logs.RetentionDays,
    log_removal_policy: RemovalPolicy,
) -> cr.Provider:
    """CDK's Provider framework around `on_event`, with its own log group and a log-only role."""
    provider_logs = logs.LogGroup(scope, f"{id}Logs", retention=log_retention, removal_policy=log_removal_policy)
    framework_role = log_only_role(scope, f"{id}Role", provider_logs, f"Provider framework of {on_event.node.path}")
    provider = cr.Provider(
        scope, id, on_event_handler=on_event, log_group=provider_logs, framework_on_event_role=framework_role
    )
    # The Provider grants lambda:InvokeFunction on the handler and its versions (ARN:*).
    stack = Stack.of(scope)
    handler_id = stack.resolve(stack.get_logical_id(on_event.node.default_child))
    guardrails.acknowledge(
        framework_role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5",
        finding=f"[Resource::<{handler_id}.Arn>:*]",
        reason="CDK's Provider framework invokes its one function and that function's versions "
        "(function ARN and ARN:*); the wildcard covers versions of that single function only.",
    )
    return provider
