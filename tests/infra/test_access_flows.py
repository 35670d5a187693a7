"""Every runtime access flow, evaluated over the synthesized templates as AWS would (tests/infra/access_model.py).

Positive flows are what a deployed stack must be able to do on day one; the negatives are what it
must never do. Each rule the evaluator applies cites its AWS page in access_model.py.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from examples.agent_stack import PlannerAgentStack
from stacks.access import DATA_API_ACTIONS
from tests.infra.access_model import (
    ACCOUNT,
    OTHER_ACCOUNT,
    AccessModel,
    Principal,
    ResolvedTemplate,
    arn,
)

CLOUDWATCH = Principal(service="cloudwatch.amazonaws.com")
SECRETS_MANAGER = Principal(service="secretsmanager.amazonaws.com")
AGENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/planner-agent"
# Someone in the account with secretsmanager:GetSecretValue on everything (an admin tool, a CI role).
BROAD_READER = f"arn:aws:iam::{ACCOUNT}:role/broad-secret-reader"
BROAD_READ = [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]
OTHER_CLUSTER = arn("rds", "cluster:someone-elses")
OTHER_SECRET = arn("secretsmanager", "secret:unrelated-QwErTy")


def only(resolved: ResolvedTemplate, kind: str) -> str:
    (logical_id,) = resolved.of_type(kind)
    return logical_id


def with_prefix(resolved: ResolvedTemplate, kind: str, prefix: str) -> str:
    (logical_id,) = [k for k in resolved.of_type(kind) if k.startswith(prefix)]
    return logical_id


class Stack:
    """The ARNs and principals of one synthesized database stack."""

    def __init__(self, template: dict, profile: str) -> None:
        consumer = template["Resources"][
            only(ResolvedTemplate(template), "AWS::IAM::ManagedPolicy")
        ]  # attached to an agent role by its owner
        self.t = ResolvedTemplate(template, stack_name=f"AlexDatabase-{profile}")
        document = self.t.resolve(consumer["Properties"]["PolicyDocument"])
        self.model = AccessModel(self.t, extra_identity={AGENT_ROLE: document["Statement"], BROAD_READER: BROAD_READ})
        cluster = only(self.t, "AWS::RDS::DBCluster")
        self.cluster = self.t.get_att(cluster, "DBClusterArn")
        self.master_secret = self.t.get_att(cluster, "MasterUserSecret.SecretArn")
        self.app_secret = self.t.ref(with_prefix(self.t, "AWS::SecretsManager::Secret", "AppCredentialsSecret"))
        self.test_secret = self.t.ref(with_prefix(self.t, "AWS::SecretsManager::Secret", "AppCredentialsRotationTest"))
        self.rotation_role = Principal(
            role=self.model.role_arn(with_prefix(self.t, "AWS::IAM::Role", "AppCredentialsRotationRole"))
        )
        self.rotation_function = self.t.get_att(
            with_prefix(self.t, "AWS::Lambda::Function", "AppCredentialsRotation"), "Arn"
        )
        self.init_role = Principal(
            role=self.model.role_arn(with_prefix(self.t, "AWS::IAM::Role", "SchemaInitHandlerRole"))
        )
        self.agent = Principal(role=AGENT_ROLE)
        self.keys = {  # secret ARN -> its customer-managed key's ARN (absent: the AWS-managed key)
            self.t.ref(k): self.t.resolve(s["Properties"]["KmsKeyId"])
            for k, s in self.t.of_type("AWS::SecretsManager::Secret").items()
            if "KmsKeyId" in s["Properties"]
        }
        master_key = self.t.resources[cluster]["Properties"].get("MasterUserSecret", {}).get("KmsKeyId")
        if master_key:
            self.keys[self.master_secret] = self.t.resolve(master_key)

    def read_secret(self, who: Principal, secret: str, action: str = "secretsmanager:GetSecretValue") -> bool:
        """GetSecretValue, and for a customer-managed key kms:Decrypt as Secrets Manager asks for it."""
        if not self.model.can(who, action, secret):
            return False
        key = self.keys.get(secret)
        context = {
            "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
            "kms:EncryptionContext:SecretARN": secret,
        }
        kms_actions = (
            ("kms:Decrypt", "kms:GenerateDataKey") if action == "secretsmanager:PutSecretValue" else ("kms:Decrypt",)
        )
        return key is None or all(self.model.can(who, a, key, **context) for a in kms_actions)

    def data_api(self, who: Principal, cluster: str, secret: str) -> list[str]:
        """What a Data API call with `secret` on `cluster` needs that `who` is refused (empty = it works)."""
        refused = [f"{a} on {cluster}" for a in DATA_API_ACTIONS.rds_data if not self.model.can(who, a, cluster)]
        return refused + ([] if self.read_secret(who, secret) else [f"secretsmanager:GetSecretValue on {secret}"])


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request, template_json) -> Stack:
    return Stack(template_json[request.param], request.param)


def test_every_alarm_can_publish_to_its_topic_and_use_its_key(template_json):
    s = Stack(template_json["prod"], "prod")
    alarms = s.t.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    for logical_id, alarm in alarms.items():
        alarm_arn = s.t.get_att(logical_id, "Arn")
        context = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm_arn, "aws:SecureTransport": "true"}
        for action in ("AlarmActions", "OKActions"):
            for topic in s.t.resolve(alarm["Properties"][action]):
                assert s.model.can(CLOUDWATCH, "sns:Publish", topic, **context), (logical_id, action)
                topic_id = next(k for k in s.t.of_type("AWS::SNS::Topic") if s.t.ref(k) == topic)
                key = s.t.resolve(s.t.resources[topic_id]["Properties"]["KmsMasterKeyId"])
                for kms_action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    assert s.model.can(CLOUDWATCH, kms_action, key, **context), (logical_id, kms_action)


def test_the_topic_refuses_everyone_else(template_json):
    s = Stack(template_json["prod"], "prod")
    topic = s.t.ref(only(s.t, "AWS::SNS::Topic"))
    alarm = arn("cloudwatch", "alarm:anything")
    ok = {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm, "aws:SecureTransport": "true"}
    assert not s.model.can(CLOUDWATCH, "sns:Publish", topic, **{**ok, "aws:SecureTransport": "false"})
    foreign = arn("cloudwatch", "alarm:theirs", account=OTHER_ACCOUNT)
    assert not s.model.can(CLOUDWATCH, "sns:Publish", topic, **{**ok, "aws:SourceAccount": OTHER_ACCOUNT,
                                                                   "aws:SourceArn": foreign})  # fmt: skip
    assert not s.model.can(Principal(service="events.amazonaws.com"), "sns:Publish", topic, **ok)
    assert not s.model.can(s.agent, "sns:Publish", topic, **ok)  # the topic policy replaced the default


def test_secrets_manager_can_invoke_the_rotation_function_for_the_app_secret_only(stack):
    context = {"aws:SourceAccount": ACCOUNT}
    function = stack.rotation_function
    assert stack.model.can(
        SECRETS_MANAGER, "lambda:InvokeFunction", function, **context, **{"aws:SourceArn": stack.app_secret}
    )
    assert not stack.model.can(
        SECRETS_MANAGER, "lambda:InvokeFunction", function, **context, **{"aws:SourceArn": OTHER_SECRET}
    )
    assert not stack.model.can(Principal(service="events.amazonaws.com"), "lambda:InvokeFunction", function)


def test_rotation_function_reaches_its_secret_the_scratch_secret_the_master_secret_and_the_data_api(stack):
    who = stack.rotation_role
    for action in ("DescribeSecret", "UpdateSecretVersionStage"):
        assert stack.model.can(who, f"secretsmanager:{action}", stack.app_secret), action
    for action in ("GetSecretValue", "PutSecretValue"):  # these also need the key, where there is one
        assert stack.read_secret(who, stack.app_secret, f"secretsmanager:{action}"), action
    assert stack.read_secret(who, stack.test_secret, "secretsmanager:PutSecretValue")
    assert stack.data_api(who, stack.cluster, stack.master_secret) == []  # setSecret: ALTER ROLE as admin
    assert stack.data_api(who, stack.cluster, stack.test_secret) == []  # testSecret: the pending login
    assert not stack.model.can(who, "secretsmanager:PutSecretValue", stack.master_secret)
    assert not stack.model.can(who, "secretsmanager:GetSecretValue", OTHER_SECRET)
    assert stack.data_api(who, OTHER_CLUSTER, stack.master_secret)
    assert not stack.model.can(who, "secretsmanager:DeleteSecret", stack.app_secret)


def test_init_function_reaches_the_data_api_as_admin_and_reads_the_app_secret(stack):
    who = stack.init_role
    assert stack.data_api(who, stack.cluster, stack.master_secret) == []
    assert stack.read_secret(who, stack.app_secret)
    assert not stack.model.can(who, "secretsmanager:PutSecretValue", stack.app_secret)
    assert stack.data_api(who, OTHER_CLUSTER, stack.master_secret)


def test_consumer_policy_reaches_the_app_secret_only(stack):
    assert stack.data_api(stack.agent, stack.cluster, stack.app_secret) == []
    assert stack.data_api(stack.agent, stack.cluster, stack.master_secret) == [
        f"secretsmanager:GetSecretValue on {stack.master_secret}"
    ]
    assert len(stack.data_api(stack.agent, OTHER_CLUSTER, stack.app_secret)) == len(DATA_API_ACTIONS.rds_data)
    assert not stack.model.can(stack.agent, "secretsmanager:PutSecretValue", stack.app_secret)
    assert not stack.model.can(stack.agent, "secretsmanager:GetSecretValue", stack.test_secret)


def test_prod_secrets_need_their_key_so_broad_secret_readers_cannot_read_them(template_json):
    prod, dev = Stack(template_json["prod"], "prod"), Stack(template_json["dev"], "dev")
    reader = Principal(role=BROAD_READER)
    assert set(prod.keys) == {prod.app_secret, prod.master_secret, prod.test_secret}
    for secret in prod.keys:
        assert prod.model.can(reader, "secretsmanager:GetSecretValue", secret)  # IAM alone would let it
        assert not prod.read_secret(reader, secret), secret  # the customer-managed key does not
    # dev keeps the AWS-managed key (documented cost choice): IAM alone decides there.
    assert dev.keys == {} and dev.read_secret(reader, dev.app_secret)
    # A key grant for one secret never opens another: the agent cannot decrypt the master secret.
    context = {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    key = prod.keys[prod.app_secret]
    assert prod.model.can(
        prod.agent, "kms:Decrypt", key, **context, **{"kms:EncryptionContext:SecretARN": prod.app_secret}
    )
    assert not prod.model.can(prod.agent, "kms:Decrypt", key, **context,
                              **{"kms:EncryptionContext:SecretARN": prod.master_secret})  # fmt: skip
    assert not prod.model.can(prod.agent, "kms:Decrypt", key, **{"kms:EncryptionContext:SecretARN": prod.app_secret})


def test_cloudwatch_logs_may_use_the_key_for_this_accounts_log_groups_only(template_json):
    prod = Stack(template_json["prod"], "prod")
    logs = Principal(service="logs.us-east-1.amazonaws.com")
    key = prod.keys[prod.app_secret]
    group = arn("logs", "log-group:/aws/rds/cluster/alex-prod/postgresql")
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
        assert prod.model.can(logs, action, key, **{"kms:EncryptionContext:aws:logs:arn": group}), action
    foreign = arn("logs", "log-group:theirs", account=OTHER_ACCOUNT)
    assert not prod.model.can(logs, "kms:Decrypt", key, **{"kms:EncryptionContext:aws:logs:arn": foreign})
    for group_id, group_props in prod.t.of_type("AWS::Logs::LogGroup").items():
        assert prod.t.resolve(group_props["Properties"]["KmsKeyId"]) == key, group_id


def planner_agent_template(profile: str) -> dict:
    """The sample consumer stack (docs/agents.md) synthesized for one profile."""
    return Template.from_stack(PlannerAgentStack(cdk.App(), f"AlexPlannerAgent-{profile}", profile=profile)).to_json()


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_agent_stack_with_alex_database_ref_reaches_the_app_secret_only(template_json, variants, profile):
    database = Stack(template_json[profile], profile)
    agent_template = variants.get(f"planner agent {profile}", lambda: planner_agent_template(profile))
    agent = ResolvedTemplate(agent_template, imports=database.t.exports())
    (role_id,) = agent.of_type("AWS::IAM::Role")
    who = Principal(role=AccessModel(agent).role_arn(role_id))
    statements = [s for p in agent.of_type("AWS::IAM::Policy").values()
                  for s in agent.resolve(p["Properties"]["PolicyDocument"])["Statement"]]  # fmt: skip
    # The agent's identity policy, evaluated against the database stack's secrets and key policy.
    database.model = AccessModel(database.t, extra_identity={who.role: statements})
    assert database.data_api(who, database.cluster, database.app_secret) == []
    assert len(database.data_api(who, OTHER_CLUSTER, database.app_secret)) == len(DATA_API_ACTIONS.rds_data)
    assert not database.read_secret(who, database.master_secret)
