"""Security checks on every synth: cdk-nag AwsSolutions, and the one way a construct acknowledges a finding.

Findings are fixed where they can be (encryption, rotation by RDS, newest runtimes, flow logs,
least-privilege roles without AWS managed policies). What remains is acknowledged by the
construct that creates the resource, on the narrowest construct, with why it does not apply;
this module imports no stack. tests/infra/test_guardrails.py pins the complete list.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

MIN_REASON_LENGTH = 60  # a reason says why the rule does not apply here, not just "not needed"


def register_security_checks(app: IConstruct) -> None:
    """Fail synth on any unacknowledged AwsSolutions finding (cdk-nag 3.x validation plugin)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, rule: str, *, reason: str, finding: str = "") -> None:
    """Acknowledge `rule` (optionally one finding of it, e.g. `[Resource::<X.Arn>:*]`) on `construct`."""
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"{rule} on {construct.node.path}: the reason must say why the finding does not apply")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule + finding, reason=reason))
