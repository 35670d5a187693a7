"""The agents' DML-only credential in the template: app secret, rotation, outputs, least-privilege grants."""

from __future__ import annotations

import json

from stacks.app_credentials import AppCredentials  # noqa: F401 - the construct under test
from tests.infra.conftest import synth_stack
from tests.infra.test_database_stack import only, resources


def statements(template: dict, role_fragment: str) -> list[dict]:
    found = []
    for logical_id, resource in resources(template, "AWS::IAM::Policy").items():
        if role_fragment in logical_id:
            found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_rotation_schedule_per_profile(template_json, profile):
    schedule = only(template_json[profile], "AWS::SecretsManager::RotationSchedule")["Properties"]
    assert schedule["RotationRules"]["ScheduleExpression"] == {"dev": "rate(30 days)", "prod": "rate(7 days)"}[profile]
    secret_id = next(iter(resources(template_json[profile], "AWS::SecretsManager::Secret")))
    assert schedule["SecretId"] == {"Ref": secret_id}
    function_id = next(k for k in resources(template_json[profile], "AWS::Lambda::Function") if "Rotation" in k)
    assert schedule["RotationLambdaARN"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_rotation_runs_after_the_roles_exist(template_json, profile):
    schedule_id, schedule = next(
        iter(resources(template_json[profile], "AWS::SecretsManager::RotationSchedule").items())
    )
    init_id = next(k for k, r in template_json[profile]["Resources"].items() if r["Type"] == "Custom::AlexSchemaInit")
    assert init_id in schedule.get("DependsOn", []), schedule_id


def test_rotation_function_is_least_privilege(template_json, profile):
    template = template_json[profile]
    cluster_id = next(iter(resources(template, "AWS::RDS::DBCluster")))
    secret_id = next(
        k for k in resources(template, "AWS::SecretsManager::Secret") if k.startswith("AppCredentialsSecret")
    )
    test_id = next(
        k for k in resources(template, "AWS::SecretsManager::Secret") if k.startswith("AppCredentialsRotationTest")
    )
    granted = {}
    for statement in statements(template, "RotationRole"):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            granted.setdefault(action, []).append(json.dumps(statement["Resource"]))
    key = {"kms:Decrypt", "kms:GenerateDataKey"} if profile == "prod" else set()  # via Secrets Manager only
    assert set(granted) - key == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
        "rds-data:BatchExecuteStatement", "rds-data:BeginTransaction", "rds-data:CommitTransaction",
        "rds-data:ExecuteStatement", "rds-data:RollbackTransaction",
    }  # fmt: skip
    assert all('"*"' not in resource for resources_ in granted.values() for resource in resources_)
    # Its own secret, and the scratch secret testSecret logs in with (never the master secret).
    assert sorted(granted["secretsmanager:PutSecretValue"]) == sorted(
        json.dumps({"Ref": i}) for i in (secret_id, test_id)
    )
    master = json.dumps({"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]})
    assert master in granted["secretsmanager:GetSecretValue"]  # to run ALTER ROLE as the master user


def test_init_function_reads_the_app_secret_and_names_the_role(template_json, profile):
    template = template_json[profile]
    secret_id = next(iter(resources(template, "AWS::SecretsManager::Secret")))
    init = next(r for r in template["Resources"].values() if r["Type"] == "Custom::AlexSchemaInit")["Properties"]
    assert init["AppRole"] == "alex_app" and init["AppSecretArn"] == {"Ref": secret_id}
    reads = [s for s in statements(template, "SchemaInitHandlerRole") if "secretsmanager:GetSecretValue" in s["Action"]]
    resources_read = [r for s in reads for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert {"Ref": secret_id} in resources_read


def test_outputs_hand_agents_the_app_secret_and_tooling_the_admin_secret(template_json, templates, profile):
    template = template_json[profile]
    secret_id = next(iter(resources(template, "AWS::SecretsManager::Secret")))
    cluster_id = next(iter(resources(template, "AWS::RDS::DBCluster")))
    outputs = template["Outputs"]
    assert outputs["SecretArn"]["Value"] == {"Ref": secret_id}
    assert outputs["AdminSecretArn"]["Value"] == {"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]}
    assert outputs["AdminSecretArn"]["Export"]["Name"] == f"AlexDatabase-{profile}-AdminSecretArn"
    templates[profile].has_resource_properties(
        "AWS::SSM::Parameter",
        {"Name": f"/alex/{profile}/database/admin-secret-arn", "Value": outputs["AdminSecretArn"]["Value"]},
    )
    templates[profile].has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/alex/{profile}/database/secret-arn", "Value": {"Ref": secret_id}}
    )


def stack_with_granted_roles() -> dict:
    """The dev stack with an agent role given grant_data_api_access and a tooling role grant_admin_access."""
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    stack = synth_stack("dev")
    agent = iam.Role(stack, "Agent", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    tooling = iam.Role(stack, "Tooling", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    stack.grant_data_api_access(agent)
    stack.grant_admin_access(tooling)
    return Template.from_stack(stack).to_json()


def test_grant_methods_split_app_and_admin(variants):
    template = variants.get("granted roles", stack_with_granted_roles)
    secret_id = next(iter(resources(template, "AWS::SecretsManager::Secret")))
    agent_reads = [
        s["Resource"]
        for s in statements(template, "AgentDefaultPolicy")
        if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    tooling_reads = [
        s["Resource"]
        for s in statements(template, "ToolingDefaultPolicy")
        if "secretsmanager:GetSecretValue" in s["Action"]
    ]
    assert agent_reads == [{"Ref": secret_id}]
    assert tooling_reads and all("MasterUserSecret" in json.dumps(r) for r in tooling_reads)


def test_only_secrets_manager_for_this_secret_may_invoke_the_rotation(template_json, profile):
    secret_id = next(iter(resources(template_json[profile], "AWS::SecretsManager::Secret")))
    (permission,) = resources(template_json[profile], "AWS::Lambda::Permission").values()
    assert permission["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == {"Ref": secret_id}
