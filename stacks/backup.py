"""AWS Backup for a profile that holds real data: a locked vault under its own key, a plan, the cluster selected.

Point-in-time recovery alone (the cluster's automated backups) dies with the cluster and reaches
back at most 35 days. The plan adds:
- continuous backup (point-in-time restore) kept 35 days, the most AWS Backup keeps continuous
  recovery points, plus a daily snapshot kept 35 days (AWS Backup Developer Guide, "Continuous
  backups and point-in-time recovery"; Aurora is supported);
- a monthly snapshot kept 365 days, for a mistake noticed on day 36 and a year of plan history;
- optionally a copy of every recovery point to a vault in another region or account
  (`backup_copy_vault_arn`), which survives a compromised account or region.
The vault has its own key and a vault lock in governance mode (minimum retention 7 days): recovery
points cannot be deleted early except by a principal allowed to bypass governance. Its name carries
part of the stack id, so a decommissioned prod keeps its vault (retained, with every recovery point)
and a redeployed prod creates a new one beside it instead of failing on the name.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from stacks import guardrails

SHORT_TERM = Duration.days(35)
LONG_TERM = Duration.days(365)
LOCK_MIN_RETENTION = Duration.days(7)


def stack_suffix() -> str:
    """The first 8 hex digits of this stack's id: unique per stack creation, stable for its life."""
    return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))


class DatabaseBackup(Construct):
    """The vault (retained, locked, own key), the plan and the selection of `cluster`."""

    def __init__(
        self, scope: Construct, id: str, *, cluster: rds.DatabaseCluster, profile_name: str, copy_vault_arn: str | None
    ) -> None:
        super().__init__(scope, id)
        key = kms.Key(
            self,
            "VaultKey",
            description=f"Alex database ({profile_name}): AWS Backup vault",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,  # the recovery points need it
        )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"alex-{profile_name}-backups-{stack_suffix()}",
            encryption_key=key,
            lock_configuration=backup.LockConfiguration(min_retention=LOCK_MIN_RETENTION),  # governance mode
            # Kept when the stack goes (decommission included); an empty vault of a failed first create goes.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        copy = (
            [backup.BackupPlanCopyActionProps(
                destination_backup_vault=backup.BackupVault.from_backup_vault_arn(self, "CopyVault", copy_vault_arn),
                delete_after=SHORT_TERM,
            )]
            if copy_vault_arn
            else []
        )  # fmt: skip
        # Plan names are unique per account and region: the profile and the stack's id make it so.
        self.plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=f"alex-{profile_name}-{stack_suffix()}", backup_vault=self.vault
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="DailyAndContinuous",
                schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                enable_continuous_backup=True,
                delete_after=SHORT_TERM,
                copy_actions=copy,
            )
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Monthly",
                schedule_expression=events.Schedule.cron(day="1", hour="4", minute="0"),
                delete_after=LONG_TERM,
                copy_actions=copy,
            )
        )
        selection = self.plan.add_selection(
            "Cluster", resources=[backup.BackupResource.from_arn(cluster.cluster_arn)], allow_restores=True
        )
        guardrails.acknowledge(
            selection.grant_principal,
            "AwsSolutions-IAM4",
            reason="AWS Backup's selection role uses the AWS managed AWSBackupServiceRolePolicyForBackup and "
            "...ForRestores, the policies AWS Backup documents for its service role; they change as the service does.",
            finding="[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
        )
        guardrails.acknowledge(
            selection.grant_principal,
            "AwsSolutions-IAM4",
            reason="AWS Backup's selection role uses the AWS managed AWSBackupServiceRolePolicyForRestores so that "
            "a restore from this vault needs no extra role; AWS Backup documents it for its service role.",
            finding="[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]",
        )
