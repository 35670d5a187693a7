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
# The Provider's waiter: how often it asks isComplete, and for how long in all.
IS_COMPLETE_INTERVAL = Duration.seconds(30)
IS_COMPLETE_TIMEOUT = Duration.minutes(55)


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
    is_complete: lambda_.Function | None = None,
) -> cr.Provider:
    """CDK's Provider framework around `on_event` (and `is_complete`), with its own log group and log-only roles.

    With `is_complete` the framework adds its waiter (a Step Functions state machine) that calls it
    every IS_COMPLETE_INTERVAL for up to IS_COMPLETE_TIMEOUT, below CloudFormation's one hour for a
    custom resource (AWS::CloudFormation::CustomResource ServiceTimeout: at most 3600 s).
    """
    provider_logs = logs.LogGroup(scope, f"{id}Logs", retention=log_retention, removal_policy=log_removal_policy)
    framework_role = log_only_role(scope, f"{id}Role", provider_logs, f"Provider framework of {on_event.node.path}")
    waiter: dict[str, Any] = {}
    if is_complete is not None:
        # Its own role: the onEvent role may start the waiter, the waiter invokes these functions; one
        # role for both would be a dependency cycle (role policy -> state machine -> function -> role).
        waiter_role = log_only_role(scope, f"{id}WaiterRole", provider_logs, f"Provider waiter of {on_event.node.path}")
        waiter = {
            "is_complete_handler": is_complete,
            "framework_complete_and_timeout_role": waiter_role,
            "query_interval": IS_COMPLETE_INTERVAL,
            "total_timeout": IS_COMPLETE_TIMEOUT,
            # No state machine logging: Step Functions' log delivery needs logs:* actions on "*" (no
            # resource-level permissions), and every decision is logged by the isComplete function.
            "disable_waiter_state_machine_logging": True,
        }
    provider = cr.Provider(
        scope, id, on_event_handler=on_event, log_group=provider_logs, framework_on_event_role=framework_role, **waiter
    )
    # The Provider grants lambda:InvokeFunction on each function it calls and its versions (ARN:*).
    handlers = [on_event, *([is_complete] if is_complete is not None else [])]
    for handler in handlers:  # CDK grants each framework role both handlers
        _acknowledge_invoke_versions(framework_role.node.find_child("DefaultPolicy"), handler)
    if is_complete is not None:
        for handler in handlers:
            _acknowledge_invoke_versions(waiter_role.node.find_child("DefaultPolicy"), handler)
        machine = provider.node.find_child("waiter-state-machine")
        for name in ("framework-isComplete", "framework-onTimeout"):
            _acknowledge_invoke_versions(machine.node.find_child("Role").node.find_child("DefaultPolicy"),
                                         provider.node.find_child(name))  # fmt: skip
        guardrails.acknowledge(
            machine,
            "AwsSolutions-SF1",
            reason="Step Functions log delivery to CloudWatch Logs needs logs:CreateLogDelivery and related "
            "actions on '*' (they support no resource-level permissions: Step Functions Developer Guide, "
            "'Logging Step Functions using CloudWatch Logs'); the waiter only calls isComplete, which logs "
            "every decision (statement, elapsed, phase, blocks) to the schema-init log group.",
        )
        guardrails.acknowledge(
            machine,
            "AwsSolutions-SF2",
            reason="CDK's Provider waiter only calls the isComplete function every 30 s while a long migration "
            "statement runs; its execution history and CloudWatch Logs (level ALL) say what happened, and "
            "X-Ray traces of two framework Lambdas would add cost without information.",
        )
    return provider


def _acknowledge_invoke_versions(policy: Construct, function: Construct) -> None:
    stack = Stack.of(policy)
    function_id = stack.resolve(stack.get_logical_id(function.node.default_child))
    guardrails.acknowledge(
        policy,
        "AwsSolutions-IAM5",
        finding=f"[Resource::<{function_id}.Arn>:*]",
        reason="CDK's Provider framework invokes one function and that function's versions "
        "(function ARN and ARN:*); the wildcard covers versions of that single function only.",
    )
