"""Security checks on every synth: cdk-nag AwsSolutions, and every acknowledgment with its reason.

Findings are fixed where they can be (encryption, rotation by RDS, newest runtimes, flow logs,
least-privilege roles without AWS managed policies); what remains is acknowledged here, on the
narrowest construct, with why it does not apply. tests/infra/test_guardrails.py pins the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from stacks.database_stack import DatabaseStack

REASONS = {
    "AwsSolutions-RDS6": (
        "IAM database authentication guards network connections to PostgreSQL; this cluster has none: "
        "isolated subnets, a security group with zero ingress rules, and every client uses the RDS Data "
        "API, which is itself authorised by IAM (rds-data actions on this cluster ARN) plus the secret."
    ),
    "AwsSolutions-RDS10": (
        "The dev profile must be removable by `cdk destroy` so that nothing billable remains; the prod "
        "profile enables deletion protection (asserted by tests/infra/test_database_stack.py)."
    ),
    "AwsSolutions-IAM5": (
        "CDK's Provider framework invokes the schema-init function and its versions "
        "(function ARN and ARN:*); the wildcard covers versions of that single function only."
    ),
}


def register_security_checks(app: IConstruct) -> None:
    """Fail synth on any unacknowledged AwsSolutions finding (cdk-nag 3.x validation plugin)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, finding: str = "") -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule + finding, reason=REASONS[rule]))


def acknowledge_findings(stack: DatabaseStack) -> None:
    cluster = stack.cluster.node.default_child
    acknowledge(cluster, "AwsSolutions-RDS6")
    if not stack.profile.deletion_protection:
        acknowledge(cluster, "AwsSolutions-RDS10")
    handler_id = stack.resolve(stack.get_logical_id(stack.schema_init.function.node.default_child))
    acknowledge(stack.schema_init.framework_policy, "AwsSolutions-IAM5", f"[Resource::<{handler_id}.Arn>:*]")
