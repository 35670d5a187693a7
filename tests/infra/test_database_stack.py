"""Template assertions: one per requirement of the database stack, for both profiles."""

from __future__ import annotations

import json

from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from stacks.access import DATA_API_ACTIONS
from tests.infra.conftest import synth_stack


def resources(template_json: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == type_}


def only(template_json: dict, type_: str) -> dict:
    found = resources(template_json, type_)
    assert len(found) == 1, f"expected one {type_}, found {list(found)}"
    return next(iter(found.values()))


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def cluster_props(template_json: dict) -> dict:
    return only(template_json, "AWS::RDS::DBCluster")["Properties"]


def test_stack_names_are_per_profile(cloud_assembly):
    assert cloud_assembly["dev"]["displayName"] == "AlexDatabase-dev"
    assert cloud_assembly["prod"]["displayName"] == "AlexDatabase-prod"


def test_stack_is_env_agnostic_without_cdk_default_env(cloud_assembly):
    # Synth without credentials depends on this: no account/region means no context lookups.
    assert cloud_assembly["dev"]["environment"] == "aws://unknown-account/unknown-region"


def test_vpc_has_two_isolated_subnets_and_no_internet_path(templates, template_json, profile):
    tpl = templates[profile]
    tpl.resource_count_is("AWS::EC2::VPC", 1)
    tpl.resource_count_is("AWS::EC2::Subnet", 2)
    tpl.resource_count_is("AWS::EC2::NatGateway", 0)
    tpl.resource_count_is("AWS::EC2::InternetGateway", 0)
    tpl.resource_count_is("AWS::EC2::VPCGatewayAttachment", 0)
    tpl.resource_count_is("AWS::EC2::EIP", 0)
    for subnet in resources(template_json[profile], "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    # No route anywhere: isolated subnets have route tables with no routes.
    tpl.resource_count_is("AWS::EC2::Route", 0)


def test_vpc_flow_logs_capture_all_traffic(templates, profile):
    templates[profile].has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )


def test_cluster_security_group_has_no_ingress(template_json, profile):
    groups = resources(template_json[profile], "AWS::EC2::SecurityGroup")
    assert len(groups) == 1
    (group,) = groups.values()
    assert "SecurityGroupIngress" not in group["Properties"]
    assert not resources(template_json[profile], "AWS::EC2::SecurityGroupIngress")


def test_cluster_is_aurora_postgres_17_with_data_api(template_json, profile):
    props = cluster_props(template_json[profile])
    assert props["Engine"] == "aurora-postgresql"
    major, minor = map(int, props["EngineVersion"].split("."))
    assert (major, minor) >= (17, 4), "Data API on Serverless v2 and auto-pause need 17.4+"
    assert props["EnableHttpEndpoint"] is True
    assert props["DatabaseName"] == "alex"
    assert props["StorageEncrypted"] is True
    assert props["EnableCloudwatchLogsExports"] == ["postgresql"]


def test_cluster_uses_isolated_subnets(template_json, profile):
    subnet_group = only(template_json[profile], "AWS::RDS::DBSubnetGroup")["Properties"]
    subnet_ids = {ref["Ref"] for ref in subnet_group["SubnetIds"]}
    assert subnet_ids == set(resources(template_json[profile], "AWS::EC2::Subnet"))


def test_writer_and_readers_are_serverless_v2(template_json):
    for profile, readers in (("dev", 0), ("prod", 1)):
        instances = resources(template_json[profile], "AWS::RDS::DBInstance")
        assert len(instances) == 1 + readers
        for instance in instances.values():
            assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
            assert instance["Properties"].get("PubliclyAccessible") is not True


def test_dev_scales_to_zero_with_auto_pause(template_json):
    scaling = cluster_props(template_json["dev"])["ServerlessV2ScalingConfiguration"]
    assert scaling["MinCapacity"] == 0
    assert scaling["SecondsUntilAutoPause"] == 300


def test_prod_keeps_capacity_warm(template_json):
    scaling = cluster_props(template_json["prod"])["ServerlessV2ScalingConfiguration"]
    # AWS: at least 2 ACU minimum with Performance Insights on ("Performance Insights ... Serverless v2").
    assert scaling["MinCapacity"] == 2
    assert "SecondsUntilAutoPause" not in scaling


def test_credentials_are_generated_and_managed_by_rds(template_json, profile):
    props = cluster_props(template_json[profile])
    assert props["ManageMasterUserPassword"] is True
    assert props["MasterUsername"] == "alex_admin"
    assert "MasterUserPassword" not in props


def test_dev_is_destroyable(template_json):
    cluster = only(template_json["dev"], "AWS::RDS::DBCluster")
    assert cluster["DeletionPolicy"] == "Delete"
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["Properties"]["BackupRetentionPeriod"] == 1
    for log_group in resources(template_json["dev"], "AWS::Logs::LogGroup").values():
        assert log_group["DeletionPolicy"] == "Delete"


def test_prod_is_protected_and_snapshots_on_delete(template_json):
    cluster = only(template_json["prod"], "AWS::RDS::DBCluster")
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["UpdateReplacePolicy"] == "Snapshot"
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["Properties"]["BackupRetentionPeriod"] == 14


def test_postgres_log_group_has_profile_retention(templates):
    for profile, days in (("dev", 7), ("prod", 365)):
        templates[profile].has_resource_properties(
            "AWS::Logs::LogGroup",
            {"LogGroupName": f"/aws/rds/cluster/alex-{profile}/postgresql", "RetentionInDays": days},
        )


def test_consumer_policy_grants_data_api_on_this_cluster_and_secret_only(template_json, profile):
    cluster_id = next(iter(resources(template_json[profile], "AWS::RDS::DBCluster")))
    policy = only(template_json[profile], "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    # prod: the app secret is under the stack's customer-managed key, decryptable via Secrets Manager only
    assert set(by_sid) == {"DataApiOnThisCluster", "ReadTheAppSecret"} | (
        {"DecryptTheAppSecret"} if profile == "prod" else set()
    )
    data_api, secret = by_sid["DataApiOnThisCluster"], by_sid["ReadTheAppSecret"]
    assert data_api["Action"] == list(DATA_API_ACTIONS.rds_data)
    arn_parts = data_api["Resource"]["Fn::Join"][1]
    assert arn_parts[-2:] == [":cluster:", {"Ref": cluster_id}]
    assert secret["Action"] == list(DATA_API_ACTIONS.secret_read)
    app_secret_id = next(iter(resources(template_json[profile], "AWS::SecretsManager::Secret")))
    assert secret["Resource"] == {"Ref": app_secret_id}  # the DML-only app secret, never the master's
    assert "MasterUserSecret" not in json.dumps(policy)
    if profile == "prod":
        decrypt = by_sid["DecryptTheAppSecret"]
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == {"Ref": app_secret_id}


def policies_after_grant() -> dict:
    stack = synth_stack("dev")
    role = iam.Role(stack, "AgentRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    stack.grant_data_api_access(role)
    return Template.from_stack(stack).find_resources("AWS::IAM::Policy")


def test_stack_grant_method_adds_data_api_permissions(variants):
    statements = json.dumps(variants.get("stack grant", policies_after_grant))
    for action in DATA_API_ACTIONS.rds_data + DATA_API_ACTIONS.secret_read:
        assert action in statements


EXPORTS = ("ClusterArn", "SecretArn", "DatabaseName", "ConsumerPolicyArn")


def test_outputs_are_exported(template_json, profile):
    outputs = template_json[profile]["Outputs"]
    for name in EXPORTS:
        assert outputs[name]["Export"]["Name"] == f"AlexDatabase-{profile}-{name}"
    assert outputs["DatabaseName"]["Value"] == "alex"


def test_outputs_are_mirrored_in_ssm(templates, profile):
    for parameter in ("cluster-arn", "secret-arn", "database-name", "consumer-policy-arn"):
        templates[profile].has_resource_properties(
            "AWS::SSM::Parameter", {"Name": f"/alex/{profile}/database/{parameter}", "Type": "String"}
        )


def test_the_cluster_uses_the_projects_parameter_group_with_password_commands_restricted(template_json, profile):
    template = template_json[profile]
    ((group_id, group),) = resources(template, "AWS::RDS::DBClusterParameterGroup").items()
    assert group["Properties"]["Family"] == "aurora-postgresql17"
    assert group["Properties"]["Parameters"]["rds.restrict_password_commands"] == "1"
    assert cluster_props(template)["DBClusterParameterGroupName"] == {"Ref": group_id}


def test_cdk_singleton_role_writes_its_own_log_group_only(template_json, profile):
    template = template_json[profile]
    (role_id,) = [k for k in resources(template, "AWS::IAM::Role") if k.startswith("CustomVpcRestrictDefaultSG")]
    assert "ManagedPolicyArns" not in template["Resources"][role_id]["Properties"]  # no AWSLambdaBasicExecutionRole
    policy = template["Resources"]["RestrictDefaultSgLogsPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": role_id}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["RestrictDefaultSgLogsDDF1DACF", "Arn"]}


def test_logs_keep_row_values_out(template_json, profile):
    (group,) = resources(template_json[profile], "AWS::RDS::DBClusterParameterGroup").values()
    parameters = group["Properties"]["Parameters"]
    assert parameters["log_error_verbosity"] == "terse"  # no "Failing row contains (...)" DETAIL lines
    assert parameters["log_parameter_max_length"] == parameters["log_parameter_max_length_on_error"] == "0"


def test_prod_has_a_customer_managed_key_and_aws_backup(template_json):
    prod = template_json["prod"]
    keys = resources(prod, "AWS::KMS::Key")
    data_key = next(k for k in keys if k.startswith("DataKey"))
    assert keys[data_key]["Properties"]["EnableKeyRotation"] is True
    uses_key = {"Fn::GetAtt": [data_key, "Arn"]}
    assert cluster_props(prod)["MasterUserSecret"] == {"KmsKeyId": uses_key}
    for secret in resources(prod, "AWS::SecretsManager::Secret").values():
        assert secret["Properties"]["KmsKeyId"] == uses_key
    for group in resources(prod, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == uses_key
    vault = only(prod, "AWS::Backup::BackupVault")
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"  # kept by a decommission, with its recovery points
    assert vault["Properties"]["LockConfiguration"] == {"MinRetentionDays": 7}  # governance mode
    assert vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0] != data_key  # the vault has its own key
    plan = only(prod, "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    rules = {r["RuleName"]: r for r in plan["BackupPlanRule"]}
    assert rules["DailyAndContinuous"]["EnableContinuousBackup"] is True
    assert rules["DailyAndContinuous"]["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": 365}
    selection = only(prod, "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
    (cluster_arn,) = selection["Resources"]
    assert cluster_arn["Fn::Join"][1][-1] == {"Ref": next(iter(resources(prod, "AWS::RDS::DBCluster")))}


def test_dev_keeps_aws_managed_keys_and_no_backup_plan(template_json):
    dev = template_json["dev"]
    assert not resources(dev, "AWS::KMS::Key") and not resources(dev, "AWS::Backup::BackupPlan")
