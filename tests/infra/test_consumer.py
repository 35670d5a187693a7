"""AlexDatabaseRef and the sample agent stack in examples/: synthesized, never deployed."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from examples.agent_stack import PlannerAgentStack
from stacks.access import DATA_API_ACTIONS
from stacks.consumer import AlexDatabaseRef


def policy_statements(template: dict) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def sample_agent_stack() -> PlannerAgentStack:
    return PlannerAgentStack(cdk.App(), "AlexPlannerAgent-dev")  # as docs/agents.md builds it: no profile


def test_sample_agent_stack_wires_environment_and_least_privilege(variants):
    template = variants.get("planner agent default", lambda: Template.from_stack(sample_agent_stack()).to_json())
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = function["Properties"]["Environment"]["Variables"]
    assert set(variables) == {"AURORA_CLUSTER_ARN", "AURORA_SECRET_ARN", "AURORA_DATABASE"}
    parameters = {p["Default"] for p in template["Parameters"].values()} - {"/cdk-bootstrap/hnb659fds/version"}
    assert parameters == {
        "/alex/dev/database/cluster-arn",
        "/alex/dev/database/secret-arn",
        "/alex/dev/database/database-name",
    }
    statements = policy_statements(template)
    actions = sorted(a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    # kms:Decrypt: for a secret under the database stack's customer-managed key (prod), via Secrets Manager only
    assert actions == sorted(["kms:Decrypt", *DATA_API_ACTIONS.rds_data, *DATA_API_ACTIONS.secret_read])
    assert all(s["Resource"] != "*" for s in statements)
    (decrypt,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert set(decrypt["Condition"]["StringEquals"]) == {"kms:ViaService", "kms:EncryptionContext:SecretARN"}


def stack_importing_prod_exports() -> dict:
    """AlexDatabaseRef.from_exports in a stack of its own, a role granted: its environment and template."""
    stack = cdk.Stack(cdk.App(), "Agent")
    db = AlexDatabaseRef.from_exports(stack, "AlexDb", profile="prod")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    db.grant_data_api_access(role)
    return {"environment": stack.resolve(db.environment), "template": Template.from_stack(stack).to_json()}


def test_from_exports_imports_the_database_stack_outputs(variants):
    result = variants.get("from exports prod", stack_importing_prod_exports)
    assert result["environment"] == {
        "AURORA_CLUSTER_ARN": {"Fn::ImportValue": "AlexDatabase-prod-ClusterArn"},
        "AURORA_SECRET_ARN": {"Fn::ImportValue": "AlexDatabase-prod-SecretArn"},
        "AURORA_DATABASE": {"Fn::ImportValue": "AlexDatabase-prod-DatabaseName"},
    }
    secret_reads = [s for s in policy_statements(result["template"]) if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [s["Resource"] for s in secret_reads] == [{"Fn::ImportValue": "AlexDatabase-prod-SecretArn"}]
