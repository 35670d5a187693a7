"""Security posture of every synthesized template: cdk-nag, cfn-lint, and the properties auditors check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import aws_cdk as cdk

from stacks import database_stack, guardrails
from tests.infra.conftest import ACKNOWLEDGMENTS_FILE, ROOT, cdk_context
from tests.infra.test_database_stack import as_list, resources

# The complete list: a new acknowledgment is added here on purpose; the construct that creates
# the resource acknowledges it with its reason.
WAITER = {  # the Provider's waiter around the schema-init isComplete handler (long no-transaction migrations)
    ("SchemaInit/Provider/waiter-state-machine", "AwsSolutions-SF1"),
    ("SchemaInit/Provider/waiter-state-machine", "AwsSolutions-SF2"),
    (
        "SchemaInit/Provider/waiter-state-machine/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<SchemaInitProviderframeworkisComplete288FBBBC.Arn>:*]",
    ),
    (
        "SchemaInit/Provider/waiter-state-machine/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<SchemaInitProviderframeworkonTimeoutC573B0AA.Arn>:*]",
    ),
    ("SchemaInit/ProviderRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::<SchemaInitIsCompleteDA7EE931.Arn>:*]"),
    ("SchemaInit/ProviderWaiterRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::<SchemaInitHandlerBDE863A8.Arn>:*]"),
    (
        "SchemaInit/ProviderWaiterRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<SchemaInitIsCompleteDA7EE931.Arn>:*]",
    ),
}
ACKNOWLEDGED = {
    "dev": {
        ("Cluster/Resource", "AwsSolutions-RDS6"),
        ("Cluster/Resource", "AwsSolutions-RDS10"),
        ("SchemaInit/ProviderRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::<SchemaInitHandlerBDE863A8.Arn>:*]"),
        ("AppCredentials/RotationTestSecret/Resource", "AwsSolutions-SMG4"),
        *WAITER,
    },
    "prod": {
        ("Cluster/Resource", "AwsSolutions-RDS6"),
        (
            "Cluster/MonitoringRole",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
        ),
        ("SchemaInit/ProviderRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::<SchemaInitHandlerBDE863A8.Arn>:*]"),
        ("AppCredentials/RotationTestSecret/Resource", "AwsSolutions-SMG4"),
        (
            "CreateRollbackRelease/ProviderRole/DefaultPolicy",
            "AwsSolutions-IAM5[Resource::<CreateRollbackReleaseHandlerF5345687.Arn>:*]",
        ),
        (
            "Backup/Plan/Cluster/Role",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
        ),
        (
            "Backup/Plan/Cluster/Role",
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]",
        ),
        *WAITER,
    },
}


def test_nag_passes_with_exactly_the_listed_acknowledgments(assembly_dir, profile):
    # The assembly exists only after app.synth(), which fails on any unacknowledged AwsSolutions
    # finding; the synth recorded which constructs acknowledged which rule (conftest.nag_acknowledgments).
    recorded = json.loads((assembly_dir / profile / ACKNOWLEDGMENTS_FILE).read_text())
    assert {tuple(entry) for entry in recorded} == ACKNOWLEDGED[profile]


def synth_without_acknowledgments(profile: str) -> dict:
    """What synth reports when no construct acknowledges anything: its error and the rules that failed."""
    with tempfile.TemporaryDirectory() as outdir, mock.patch.object(guardrails, "acknowledge", lambda *a, **k: None):
        app = cdk.App(context=cdk_context(profile=profile), outdir=outdir)
        database_stack.build_database_stack(app)
        try:
            app.synth()
        except RuntimeError as exc:
            report = json.loads((Path(outdir) / "validation-report.json").read_text())
            failed = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
            return {"error": str(exc), "failed": sorted(failed)}
        return {"error": None, "failed": []}


def test_every_acknowledgment_is_needed(variants, profile):
    # Without them, synth fails naming each rule: none is stale.
    result = variants.get(f"no acknowledgments {profile}", lambda: synth_without_acknowledgments(profile))
    assert result["error"] is not None, "synth passed with every acknowledgment removed"
    assert set(result["failed"]) == {rule for _, rule in ACKNOWLEDGED[profile]}, result["error"]


def run_cfn_lint(template_files: dict[str, Path]) -> dict:
    # Run as users do: the cfn-lint CLI, which reads .cfnlintrc from the project root.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), *map(str, template_files.values())],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def test_cfn_lint_reports_nothing(variants, template_files):
    # cfn-lint's verdict is a function of the templates, .cfnlintrc and its pinned version: all synth inputs.
    result = variants.get("cfn-lint", lambda: run_cfn_lint(template_files))
    assert result["returncode"] == 0, result["stdout"] + result["stderr"]
    assert result["stdout"].strip() == ""


def test_cfnlintrc_ignores_only_cdk_noise():
    ignored = re.findall(r"^\s+- (\w\d+)", (ROOT / ".cfnlintrc").read_text(), flags=re.M)
    assert ignored == ["W3005"]


def keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys(v)}
    return set()


def test_no_literal_password_or_secret_value_anywhere(template_json, profile):
    # RDS generates and rotates the master password; CloudFormation generates the app secret's.
    password_keys = {k for k in keys(template_json[profile]) if "password" in k.lower()}
    assert password_keys == {"ManageMasterUserPassword", "PasswordLength", "rds.restrict_password_commands"}
    text = json.dumps(template_json[profile])
    assert "{{resolve:secretsmanager" not in text
    secrets = resources(template_json[profile], "AWS::SecretsManager::Secret")
    assert len(secrets) == 2  # the app secret and the rotation's scratch secret
    for secret in secrets.values():
        assert "SecretString" not in secret["Properties"]  # generated, never written in the template
        assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "password"
    app = next(s for k, s in secrets.items() if k.startswith("AppCredentialsSecret"))
    assert json.loads(app["Properties"]["GenerateSecretString"]["SecretStringTemplate"]) == {"username": "alex_app_1"}


def test_no_wildcard_resource_for_data_secrets_or_logs(template_json, profile):
    for logical_id, resource in template_json[profile]["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
            continue
        props = resource["Properties"]
        documents = [props.get("PolicyDocument")] + [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in filter(None, documents):
            for statement in document["Statement"]:
                services = {a.split(":")[0] for a in as_list(statement["Action"])}
                if services & {"rds-data", "secretsmanager", "logs"}:
                    assert "*" not in as_list(statement["Resource"]), f"{logical_id}: {statement}"


def test_no_ingress_no_public_subnets_no_internet_path(template_json, profile):
    resources_ = template_json[profile]["Resources"]
    for group in resources(template_json[profile], "AWS::EC2::SecurityGroup").values():
        assert not group["Properties"].get("SecurityGroupIngress")
    assert not resources(template_json[profile], "AWS::EC2::SecurityGroupIngress")
    for subnet in resources(template_json[profile], "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    kinds = {r["Type"] for r in resources_.values()}
    assert not kinds & {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::Route"}


def test_encryption_is_on(template_json, profile):
    for cluster in resources(template_json[profile], "AWS::RDS::DBCluster").values():
        assert cluster["Properties"]["StorageEncrypted"] is True
    for instance in resources(template_json[profile], "AWS::RDS::DBInstance").values():
        assert instance["Properties"].get("PubliclyAccessible") is not True


def test_lambda_runtimes_are_current(template_json, profile):
    for fn in resources(template_json[profile], "AWS::Lambda::Function").values():
        runtime = fn["Properties"]["Runtime"]
        assert runtime in ("python3.14", "nodejs24.x"), runtime
