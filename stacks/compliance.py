"""`make compliance`: cdk-nag's NIST 800-53 R5, HIPAA Security, PCI DSS 3.2.1 and Serverless packs on both
profiles, and parliament (an offline IAM linter) on every policy document with its intrinsics resolved.

Kept out of `make synth` (it synthesizes each profile once more, with four packs). Every finding must
be fixed or acknowledged below with the reason a security reviewer would sign; an acknowledgment
that matches no finding any more fails the run, as the AwsSolutions acknowledgments do in make test.
Findings are computed without acknowledgments and compared with this table, so one synth per
profile shows both the unacknowledged findings and the stale acknowledgments.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import cdk_nag

from stacks import guardrails
from stacks.database_stack import build_database_stack
from stacks.template_values import ResolvedTemplate

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("dev", "prod")
PACKS = {
    "NIST.800.53.R5": cdk_nag.NIST80053R5Checks,
    "HIPAA.Security": cdk_nag.HIPAASecurityChecks,
    "PCI.DSS.321": cdk_nag.PCIDSS321Checks,
    "Serverless": cdk_nag.ServerlessChecks,
}
LAMBDAS = ("SchemaInit/Handler", "SchemaInit/IsComplete", "SchemaInit/Provider/framework-*", "AppCredentials/Rotation",
           "CreateRollbackRelease/Handler", "CreateRollbackRelease/Provider/framework-onEvent")  # fmt: skip


@dataclass(frozen=True)
class Acknowledgment:
    rule: str  # the rule name after the pack prefix, e.g. "LambdaDLQ" (matched in every pack that has it)
    paths: tuple[str, ...]  # construct paths below the stack (fnmatch patterns)
    reason: str
    profiles: tuple[str, ...] = PROFILES


ACKNOWLEDGED = (
    Acknowledgment("LambdaInsideVPC", LAMBDAS,
                   "Every function reaches the database through the RDS Data API (HTTPS, IAM-authorised); the "
                   "cluster's VPC has no NAT and no endpoints, so a function inside it could reach nothing."),
    Acknowledgment("LambdaDLQ", LAMBDAS,
                   "CloudFormation (Provider framework, its waiter state machine) and Secrets Manager invoke these "
                   "functions synchronously; a dead-letter queue only receives asynchronous invocations, and "
                   "failures reach the caller."),
    Acknowledgment("LambdaConcurrency", LAMBDAS,
                   "One deploy or one rotation calls each function at a time; reserving concurrency fails on "
                   "accounts whose concurrency quota is 10 and protects nothing here."),
    Acknowledgment("LambdaTracing", LAMBDAS,
                   "Each function makes a handful of Data API calls per deploy or rotation, logged with their "
                   "outcome; X-Ray would add cost and IAM grants for traces nobody reads."),
    Acknowledgment("LambdaDefaultMemorySize", ("*/Provider/framework-*",),
                   "CDK's Provider framework functions are CDK's own code with CDK's default memory; they only "
                   "forward the CloudFormation event to our functions, which set 256 MB."),
    Acknowledgment("StepFunctionStateMachineXray", ("SchemaInit/Provider/waiter-state-machine/Resource",),
                   "CDK's Provider waiter only calls the isComplete function every 30 s while a long migration "
                   "statement runs; isComplete logs every decision, and X-Ray traces would add cost only."),
    Acknowledgment("IAMNoInlinePolicy", ("*/DefaultPolicy", "RestrictDefaultSgLogsPolicy"),
                   "CDK attaches each role's least-privilege grants as that role's own policy; a customer-managed "
                   "policy would be shared by nobody and reviewed in the same template."),
    Acknowledgment("SecretsManagerRotationEnabled", ("AppCredentials/RotationTestSecret/Resource",),
                   "A scratch secret: rotation writes the pending credentials into it for one login test and blanks "
                   "it again, so it holds no standing credential to rotate."),
    Acknowledgment("SecretsManagerUsingKMSKey", ("AppCredentials/Secret", "AppCredentials/RotationTestSecret"),
                   "dev holds no customer data; its secrets use the AWS-managed key to keep its idle cost near $1 "
                   "a month (prod uses the customer-managed key).", ("dev",)),
    Acknowledgment("CloudWatchLogGroupEncrypted", ("*",),
                   "dev holds no customer data and keeps CloudWatch's default encryption at rest to stay near $1 "
                   "a month idle (prod encrypts every log group with the customer-managed key).", ("dev",)),
    Acknowledgment("RDSInBackupPlan", ("Cluster/writer", "Cluster/reader*"),
                   "Aurora backs up the cluster volume, not instances: prod's AWS Backup plan selects the cluster, "
                   "which is what a restore needs; dev keeps a day of point-in-time recovery and no plan."),
    Acknowledgment("RDSEnhancedMonitoringEnabled", ("Cluster/writer/Resource",),
                   "dev scales to zero and is observed only when someone uses it; enhanced monitoring would bill "
                   "log ingestion around the clock (prod has 60-second enhanced monitoring).", ("dev",)),
    Acknowledgment("RDSInstanceDeletionProtectionEnabled", ("Cluster/Resource",),
                   "dev must be removable by `cdk destroy` so that nothing billable remains; prod has deletion "
                   "protection, termination protection and a retained writer.", ("dev",)),
)  # fmt: skip

# parliament findings that misread a policy's kind, each with why.
PARLIAMENT_ACKNOWLEDGED = {
    ("RESOURCE_STAR", "AWS::KMS::Key"): 'In a key policy, Resource "*" is the key itself (KMS Developer Guide, '
    '"Key policies"); parliament reads it as every resource.',
    ("UNKNOWN_CONDITION_FOR_ACTION", "AWS::KMS::Key"): "The CloudWatch Logs statement is AWS's documented one "
    "(kms:Describe* with the aws:logs:arn encryption context); DescribeKey ignores the context key.",
    ("MISMATCHED_TYPE", "AWS::KMS::Key"): "AWS documents ArnLike for kms:EncryptionContext:aws:logs:arn "
    '(CloudWatch Logs User Guide, "Encrypt log data"); parliament types the key as a string.',
}


def synth_findings(profile: str, outdir: str) -> tuple[dict, set[tuple[str, str, str]]]:
    """The profile's template and every pack finding as (pack, rule, construct path below the stack)."""
    app = cdk.App(context={**json.loads((ROOT / "cdk.json").read_text())["context"], "profile": profile},
                  outdir=outdir)  # fmt: skip
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in PACKS.values()))
    original, guardrails.register_security_checks = guardrails.register_security_checks, lambda _app: None
    try:
        stack = build_database_stack(app)
    finally:
        guardrails.register_security_checks = original
    with contextlib.suppress(RuntimeError):  # ValidationFailed: the report below lists why
        app.synth()
    findings = set()
    report_file = Path(outdir) / "validation-report.json"
    if report_file.exists():
        for report in json.loads(report_file.read_text())["pluginReports"]:
            for violation in report["violations"]:
                for where in violation.get("violatingResources", violation.get("violatingConstructs", [])):
                    path = where["constructPath"].split("/", 1)[1]
                    findings.add((report["pluginName"], violation["ruleName"], path))
    template = json.loads((Path(outdir) / f"{stack.stack_name}.template.json").read_text())
    return template, findings


def matches(ack: Acknowledgment, rule: str, path: str) -> bool:
    """`rule` (any pack) on `path`, or on a construct below one of the acknowledged paths."""
    return rule.split("-", 1)[-1] == ack.rule and any(
        fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, f"{p}/*") for p in ack.paths
    )


def policy_documents(template: dict) -> list[tuple[str, str, dict]]:
    """(logical id, resource type, document) of every identity and resource policy in the template."""
    documents = []
    for logical_id, resource in template["Resources"].items():
        props, kind = resource.get("Properties", {}), resource["Type"]
        key = {"AWS::IAM::Policy": "PolicyDocument", "AWS::IAM::ManagedPolicy": "PolicyDocument",
               "AWS::KMS::Key": "KeyPolicy", "AWS::SNS::TopicPolicy": "PolicyDocument",
               "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy"}.get(kind)  # fmt: skip
        if key and key in props:
            documents.append((logical_id, kind, props[key]))
        for inline in props.get("Policies", []) if kind == "AWS::IAM::Role" else []:
            documents.append((logical_id, kind, inline["PolicyDocument"]))
    return documents


def lint_policies(template: dict, stack_name: str) -> tuple[list[str], Counter]:
    """parliament on each resolved document: (unacknowledged findings, acknowledged counts)."""
    from parliament import analyze_policy_string

    resolved = ResolvedTemplate(template, stack_name=stack_name)
    open_findings, acknowledged = [], Counter()
    for logical_id, kind, document in policy_documents(template):
        policy = analyze_policy_string(json.dumps(resolved.resolve(document)), ignore_private_auditors=True)
        for finding in policy.findings:
            if (finding.issue, kind) in PARLIAMENT_ACKNOWLEDGED:
                acknowledged[finding.issue] += 1
            else:
                open_findings.append(f"{logical_id} ({kind}): {finding.issue} {finding.detail}")
    return open_findings, acknowledged


def main() -> int:
    failed = False
    results = {}
    for profile in PROFILES:
        with tempfile.TemporaryDirectory() as outdir:
            results[profile] = synth_findings(profile, outdir)
    rules = {profile: {(p, r.split("-", 1)[-1]) for p, r, _ in findings} for profile, (_, findings) in results.items()}
    print(f"{'profile':8} {'pack':16} {'findings':>8} {'fixed':>6} {'acknowledged':>12} {'open':>5}")
    for profile, (template, findings) in results.items():
        acks = [a for a in ACKNOWLEDGED if profile in a.profiles]
        for pack in PACKS:
            mine = {(rule, path) for p, rule, path in findings if p == pack}
            open_ = sorted(f for f in mine if not any(matches(a, *f) for a in acks))
            # fixed: rules this pack raises on dev's configuration that this profile's resources pass
            fixed = len({r for p, r in rules["dev"] - rules[profile] if p == pack})
            print(f"{profile:8} {pack:16} {len(mine):8} {fixed:6} {len(mine) - len(open_):12} {len(open_):5}")
            for rule, path in open_:
                print(f"  OPEN   {rule} on {path}")
            failed |= bool(open_)
        every = {(rule, path) for _, rule, path in findings}
        for ack in acks:
            if not any(matches(ack, rule, path) for rule, path in every):
                print(f"  STALE  acknowledgment {ack.rule} on {', '.join(ack.paths)} ({profile}) matches no finding")
                failed = True
        open_policies, acknowledged = lint_policies(template, f"AlexDatabase-{profile}")
        total = len(open_policies) + sum(acknowledged.values())
        print(f"{profile:8} {'parliament':16} {total:8} {'':6} {sum(acknowledged.values()):12} {len(open_policies):5}"
              f"   ({len(policy_documents(template))} policy documents)")  # fmt: skip
        for line in open_policies:
            print(f"  OPEN   {line}")
        failed |= bool(open_policies)
    verdict = "FAILED (fix or acknowledge the OPEN/STALE lines)" if failed else "every finding is fixed or acknowledged"
    print(f"compliance: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.exit(main())
