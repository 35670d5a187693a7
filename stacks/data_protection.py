"""The stack's customer-managed KMS key: the app and master secrets and every log group are encrypted with it.

Who may decrypt is then written in this key's policy and in identity policies we grant, instead of
"anyone with secretsmanager:GetSecretValue in the account" (the AWS-managed aws/secretsmanager key
allows every account principal through Secrets Manager). The key policy keeps the account-root
statement (so IAM policies can grant use, KMS Developer Guide "Default key policy") and adds
CloudWatch Logs, scoped to this account's log groups by the `aws:logs:arn` encryption context
(CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS"). Every principal
that reads a secret gets kms:Decrypt only through Secrets Manager (`kms:ViaService`) and only for
that secret (`kms:EncryptionContext:SecretARN`, the context Secrets Manager uses).
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

SECRET_READ = ("kms:Decrypt",)
SECRET_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")


def secrets_manager_conditions(secret_arn: str) -> dict:
    """kms:* only when Secrets Manager asks on the caller's behalf, for this one secret."""
    return {
        "StringEquals": {
            "kms:ViaService": f"secretsmanager.{Aws.REGION}.amazonaws.com",
            "kms:EncryptionContext:SecretARN": secret_arn,
        }
    }


class DataKey(Construct):
    """One customer-managed key (annual rotation on) for a stack's secrets and log groups."""

    def __init__(self, scope: Construct, id: str, *, profile_name: str) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Alex database ({profile_name}): secrets and log groups",
            enable_key_rotation=True,
            # Retained: the log groups a decommission keeps (and their exports) stay readable.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        logs_principal = iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[logs_principal],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

    def grant_secret(self, grantee: iam.IGrantable, secret_arn: str, *, write: bool = False) -> None:
        """Let `grantee` decrypt (and with `write`, encrypt new versions of) one secret, via Secrets Manager only."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(SECRET_WRITE if write else SECRET_READ),
                resources=[self.key.key_arn],
                conditions=secrets_manager_conditions(secret_arn),
            )
        )

    def encrypt_log_groups(self, stack: Stack) -> int:
        """Point every log group of `stack` at this key; returns how many."""
        groups = [c for c in stack.node.find_all() if isinstance(c, logs.CfnLogGroup)]
        for group in groups:
            group.kms_key_id = self.key.key_arn
        return len(groups)
