"""`make compliance` judges findings: acknowledgments match by rule and path, stale ones fail, parliament can fail."""

from __future__ import annotations

from stacks.compliance import ACKNOWLEDGED, Acknowledgment, lint_policies, matches, policy_documents

DLQ = next(a for a in ACKNOWLEDGED if a.rule == "LambdaDLQ")


def test_an_acknowledgment_covers_its_rule_in_every_pack_and_only_its_paths():
    for rule in ("NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ"):
        assert matches(DLQ, rule, "SchemaInit/Handler/Resource")
    assert not matches(DLQ, "Serverless-LambdaTracing", "SchemaInit/Handler/Resource")  # another rule
    assert not matches(DLQ, "Serverless-LambdaDLQ", "SomeNewFunction/Resource")  # a new function must be looked at


def test_every_acknowledgment_says_why():
    assert all(len(a.reason) >= 60 for a in ACKNOWLEDGED)


def test_parliament_reports_an_overbroad_policy_that_no_acknowledgment_covers():
    template = {"Resources": {"Broad": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket"}],
    }, "Roles": []}}}}  # fmt: skip
    assert [d[0] for d in policy_documents(template)] == ["Broad"]
    open_findings, acknowledged = lint_policies(template, "Stack")
    assert open_findings and "RESOURCE_MISMATCH" in open_findings[0]  # GetObject needs an object ARN
    assert not acknowledged


def test_a_dev_only_acknowledgment_does_not_apply_to_prod():
    cost = Acknowledgment("CloudWatchLogGroupEncrypted", ("*",), "x" * 60, ("dev",))
    assert "prod" not in cost.profiles and matches(cost, "PCI.DSS.321-CloudWatchLogGroupEncrypted", "Any/Resource")


def test_the_security_page_lists_every_acknowledged_rule():
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "security.md").read_text()
    assert all(a.rule in page for a in ACKNOWLEDGED)
