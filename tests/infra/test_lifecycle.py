"""Lifecycle traps read from CloudFormation's and RDS's documented behaviour, proven in the templates."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.infra.conftest import ROOT, cdk_context
from tests.infra.lifecycle_model import NAME_PROPERTIES
from tests.infra.test_database_stack import only, resources


# Every fixed-name resource, per profile: (type, name) -> (DeletionPolicy, UpdateReplacePolicy).
# None of them may be plainly "Retain": it also applies when the first create rolls back, and
# the retained name then blocks the next deploy.
def expected_fixed_names(profile: str, log_policies: tuple[str, str], cluster_policies: tuple[str, str]) -> dict:
    parameters = ("cluster-arn", "secret-arn", "admin-secret-arn", "database-name", "consumer-policy-arn")
    return {
        ("AWS::Logs::LogGroup", f"/aws/rds/cluster/alex-{profile}/postgresql"): log_policies,
        ("AWS::RDS::DBCluster", f"alex-{profile}"): cluster_policies,
        **{("AWS::SSM::Parameter", f"/alex/{profile}/database/{name}"): (None, None) for name in parameters},
    }


FIXED_NAMES = {
    "dev": expected_fixed_names("dev", ("Delete", "Delete"), ("Delete", "Snapshot")),
    "prod": expected_fixed_names("prod", ("RetainExceptOnCreate", "Retain"), ("Snapshot", "Snapshot")),
}


def fixed_names(template: dict) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    found = {}
    for resource in template["Resources"].values():
        name = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"], ""))
        if isinstance(name, str):
            found[(resource["Type"], name)] = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
    return found


def test_every_fixed_name_and_its_policies(template_json, profile):
    names = fixed_names(template_json[profile])
    assert names == FIXED_NAMES[profile]
    assert all(policy != "Retain" for policy, _ in names.values())
    for resource in template_json[profile]["Resources"].values():  # generated names: no plain Retain either
        assert resource.get("DeletionPolicy") != "Retain", resource["Type"]


def test_prod_cannot_be_half_destroyed(cloud_assembly, template_json):
    assert cloud_assembly["prod"]["properties"]["terminationProtection"] is True
    assert not cloud_assembly["dev"]["properties"].get("terminationProtection", False)
    writer = template_json["prod"]["Resources"]["Clusterwriter2D9E9F4C"]
    assert writer["DeletionPolicy"] == "RetainExceptOnCreate"  # never deleted before the protected cluster
    assert only(template_json["prod"], "AWS::RDS::DBCluster")["Properties"]["DeletionProtection"] is True


def test_termination_protection_reaches_the_cloud_assembly(assembly_dir):
    manifest = json.loads((assembly_dir / "prod" / "manifest.json").read_text())
    artifact = manifest["artifacts"]["AlexDatabase-prod"]
    assert artifact["properties"]["terminationProtection"] is True
    assert artifact["properties"]["tags"] == {"alex:profile": "prod"}


def test_decommission_is_the_first_of_two_steps(variants):
    decommissioned = variants.synth("prod", decommission="true")
    assert decommissioned["artifact"]["properties"].get("terminationProtection", False) is False
    template = decommissioned["template"]
    cluster = only(template, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["DeletionProtection"] is False
    assert cluster["DeletionPolicy"] == "Snapshot"  # the final snapshot stays
    for instance in resources(template, "AWS::RDS::DBInstance").values():
        assert instance["DeletionPolicy"] == "Delete"


def test_cluster_replacement_keeps_a_snapshot_in_every_profile(template_json, profile):
    assert only(template_json[profile], "AWS::RDS::DBCluster")["UpdateReplacePolicy"] == "Snapshot"


def test_every_lambda_logs_to_a_log_group_the_stack_owns(template_json, profile):
    template = template_json[profile]
    groups = resources(template, "AWS::Logs::LogGroup")
    functions = resources(template, "AWS::Lambda::Function")
    # schema-init onEvent + isComplete handlers + their Provider framework (onEvent, isComplete,
    # onTimeout), the app-secret rotation, CDK's restrict-default-SG; prod adds the create-rollback
    # release + its Provider framework
    assert len(functions) == {"dev": 7, "prod": 9}[profile]
    for logical_id, function in functions.items():
        target = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = groups[target]
        assert group["Properties"]["RetentionInDays"] == {"dev": 7, "prod": 365}[profile], logical_id
        assert group["DeletionPolicy"] == {"dev": "Delete", "prod": "RetainExceptOnCreate"}[profile], logical_id


def test_profile_is_an_output_and_a_stack_tag(template_json, cloud_assembly, profile):
    assert template_json[profile]["Outputs"]["Profile"]["Value"] == profile
    assert cloud_assembly[profile]["properties"]["tags"] == {"alex:profile": profile}


def test_prod_has_insights_enhanced_monitoring_and_alarms(template_json):
    template = template_json["prod"]
    cluster = only(template, "AWS::RDS::DBCluster")["Properties"]
    assert cluster["DatabaseInsightsMode"] == "standard"
    assert cluster["PerformanceInsightsEnabled"] is True and cluster["PerformanceInsightsRetentionPeriod"] == 7
    for instance in resources(template, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["EnablePerformanceInsights"] is True
        assert instance["Properties"]["MonitoringInterval"] == 60
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    # Serverless v2: CPU and memory are relative to the maximum ACU, so capacity is watched as ACUUtilization.
    assert set(alarms) == {"ACUUtilization", "Deadlocks", "Errors"}
    assert alarms["ACUUtilization"]["Threshold"] == 90
    rotation = next(k for k in resources(template, "AWS::Lambda::Function") if k.startswith("AppCredentialsRotation"))
    assert alarms["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": rotation}}]
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    topic = resources(template, "AWS::SNS::Topic")[topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    assert not resources(template, "AWS::SNS::Subscription")  # no address configured in cdk.json


def test_alarm_email_is_a_profile_setting(variants):
    profiles = cdk_context()["alex:profiles"]
    prod = {**profiles["prod"], "alarm_email": "oncall@example.com"}
    template = variants.synth("prod", **{"alex:profiles": {**profiles, "prod": prod}})["template"]
    (subscription,) = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"


def test_dev_has_no_monitoring_costs(template_json):
    template = template_json["dev"]
    assert not resources(template, "AWS::CloudWatch::Alarm") and not resources(template, "AWS::SNS::Topic")
    assert "MonitoringInterval" not in only(template, "AWS::RDS::DBInstance")["Properties"]


@pytest.mark.parametrize("decommission", ["", "DECOMMISSION=1"])
def test_make_destroy_prod_explains_the_two_steps(decommission):
    result = subprocess.run(
        ["make", "-n" if decommission else "-s", "destroy", "PROFILE=prod", *([decommission] if decommission else [])],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if decommission:  # -n: the real destroy runs cdk destroy with decommission=true
        assert "cdk destroy -c profile=prod -c decommission=true" in result.stdout
        return
    assert result.returncode != 0
    assert "make deploy PROFILE=prod DECOMMISSION=1" in result.stdout + result.stderr
    assert "make destroy PROFILE=prod DECOMMISSION=1" in result.stdout + result.stderr
