"""The AlexDatabase-<profile> stack: isolated VPC, Aurora Serverless v2 with the Data API, access, outputs."""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import CfnDeletionPolicy, CfnOutput, CfnResource, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks import guardrails
from stacks.access import DataApiConsumerPolicy, grant_data_api
from stacks.app_credentials import AppCredentials
from stacks.backup import DatabaseBackup
from stacks.config import (
    DECOMMISSION_CONTEXT_KEY,
    LOG_RETENTION_DAYS,
    PROFILE_CONTEXT_KEY,
    PROFILES_CONTEXT_KEY,
    VPC_ID_CONTEXT_KEY,
    DatabaseProfile,
    load_profile,
)
from stacks.create_rollback import CreateRollbackRelease
from stacks.data_protection import DataKey, secrets_manager_conditions
from stacks.monitoring import DatabaseAlarms
from stacks.schema_init import SchemaInit

ROOT = Path(__file__).resolve().parent.parent

# Newest 17.x in aws-cdk-lib 2.275: Data API on Serverless v2 needs >= 16.1/17.4 and
# scale-to-zero needs >= 16.3/17.x; 17 is the newest major with a long support window.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9

# RetentionDays lists CloudWatch's periods in ascending order, as LOG_RETENTION_DAYS does.
RETENTION_BY_DAYS = dict(zip(LOG_RETENTION_DAYS, [r for r in logs.RetentionDays if r.name != "INFINITE"], strict=True))

REMOVAL_POLICIES = {
    "destroy": RemovalPolicy.DESTROY,
    "snapshot": RemovalPolicy.SNAPSHOT,
    # RetainExceptOnCreate: a failed first create still cleans up, so a fixed name never blocks the retry.
    "retain": RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
}
# CDK's restrict-default-security-group custom resource (feature flag) runs a singleton Lambda.
RESTRICT_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider"
PROFILE_TAG = "alex:profile"
# The cluster parameter group (both profiles). rds.restrict_password_commands: only members of
# rds_password may CREATE/ALTER ROLE ... PASSWORD, VALID UNTIL or RENAME, so an agent cannot lock
# every other agent out by changing its own password (Aurora User Guide, "Restricting password
# management"). Static on an existing cluster: it applies after the writer's next reboot.
#
# Log hygiene: PostgreSQL's error DETAIL lines copy row values into the log ("Failing row contains
# (...)", "Key (clerk_user_id)=(...) already exists"), and bind parameters are logged with errors
# by default. terse drops DETAIL/HINT/QUERY/CONTEXT from the log (the caller still receives them
# in the error); parameters are never logged. Cost: a log line names the constraint and the error,
# not the offending values - reproduce with the failing request instead (docs/security.md).
CLUSTER_PARAMETERS = {
    "rds.restrict_password_commands": "1",
    "log_error_verbosity": "terse",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
}
# What exists before the cluster starts (its network, parameters, log group, CDK's VPC helpers).
BEFORE_CLUSTER_IDS = {
    "Vpc", "VpcFlowLogs", "ClusterSecurityGroup", "ClusterParameters", "PostgresLogs", "DataKey",
    "RestrictDefaultSgLogs", "RestrictDefaultSgLogsPolicy", RESTRICT_DEFAULT_SG_PROVIDER,
}  # fmt: skip


def cluster_identifier(profile: DatabaseProfile) -> str:
    return f"alex-{profile.name}"


def stack_name(profile: str) -> str:
    return f"AlexDatabase-{profile}"


class DatabaseStack(Stack):
    """Aurora PostgreSQL reachable only through the RDS Data API, plus what the agents need to use it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        profile: DatabaseProfile,
        migrations_dir: Path = ROOT / "migrations",
        seed_dir: Path = ROOT / "seed",
        **kwargs,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.profile = profile
        removal = REMOVAL_POLICIES[profile.removal_policy]
        # Log groups and the VPC hold no data worth a snapshot: destroy, or retain except when the
        # first create fails (a retained fixed-name log group would block the next deploy).
        simple_removal = (
            RemovalPolicy.DESTROY if removal is RemovalPolicy.DESTROY else RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        )

        self.vpc = self._network(profile, simple_removal)
        self.security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=self.vpc,
            description="Aurora cluster: no ingress; reached only through the RDS Data API",
            allow_all_outbound=False,
        )
        # A customer-managed key for the secrets and log groups; dev keeps the AWS-managed keys: it holds
        # no customer data, and the key's $1/month would more than double its idle cost.
        self.data_key = DataKey(self, "DataKey", profile_name=profile.name) if profile.customer_managed_key else None
        self.cluster = self._cluster(profile, removal, simple_removal)
        self.app_credentials = AppCredentials(
            self, "AppCredentials", group=profile.app_role, encryption_key=self.data_key.key if self.data_key else None
        )
        self.consumer_policy = DataApiConsumerPolicy(
            self, "DataApiConsumer", cluster=self.cluster, secret=self.app_credentials.secret
        ).policy
        self.schema_init = SchemaInit(
            self,
            "SchemaInit",
            cluster=self.cluster,
            database_name=profile.database_name,
            migrations_dir=migrations_dir,
            seed_dir=seed_dir,
            log_retention=RETENTION_BY_DAYS[profile.log_retention_days],
            log_removal_policy=simple_removal,
            app_secret=self.app_credentials.secret,
            app_role=profile.app_role,
            lock_timeout_seconds=profile.migration_lock_timeout_seconds,
        )
        schedule = self.app_credentials.add_rotation(
            cluster=self.cluster,
            database_name=profile.database_name,
            rotation_days=profile.rotation_days,
            code=self.schema_init.code,
            log_retention=RETENTION_BY_DAYS[profile.log_retention_days],
            log_removal_policy=simple_removal,
        )
        # CloudFormation rotates once right after creating the schedule: the roles must exist by then.
        schedule.node.add_dependency(self.schema_init.resource)
        self._own_singleton_log_groups(profile, simple_removal)
        self.alarms = (
            DatabaseAlarms(
                self,
                "Alarms",
                cluster=self.cluster,
                max_capacity=profile.max_capacity,
                email=profile.alarm_email,
                rotation_function=self.app_credentials.function,
            )
            if profile.observability
            else None
        )
        self._outputs(profile)
        if profile.aws_backup:
            DatabaseBackup(self, "Backup", cluster=self.cluster, profile_name=profile.name,
                           copy_vault_arn=profile.backup_copy_vault_arn)  # fmt: skip
        release = (
            CreateRollbackRelease(
                self,
                "CreateRollbackRelease",
                cluster_identifier=cluster_identifier(profile),
                code=self.schema_init.code,
                log_retention=RETENTION_BY_DAYS[profile.log_retention_days],
                log_removal_policy=simple_removal,
            )
            if profile.protected
            else None
        )
        if self.data_key is not None:
            self._grant_key_use(self.data_key)
            self.data_key.encrypt_log_groups(self)
        if release is not None:
            # Last, so that every resource above is ordered after the release (create_rollback.py).
            release.attach(
                self.cluster, before_cluster=[c for c in self.node.children if c.node.id in BEFORE_CLUSTER_IDS]
            )

    def grant_data_api_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` (e.g. an agent's Lambda in this app) call the Data API as the DML-only app role."""
        if self.data_key is not None:
            self.data_key.grant_secret(grantee, self.secret_arn)
        return grant_data_api(grantee, self.cluster, self.app_credentials.secret)

    def grant_admin_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` (schema tooling, never an agent) call the Data API as the master user."""
        if self.data_key is not None:
            self.data_key.grant_secret(grantee, self.admin_secret_arn)
        assert self.cluster.secret is not None
        return grant_data_api(grantee, self.cluster, self.cluster.secret)

    def _grant_key_use(self, key: DataKey) -> None:
        """Every principal that reads or writes a secret of this stack may use the key for that secret only."""
        app, admin, scratch = self.secret_arn, self.admin_secret_arn, self.app_credentials.test_secret.secret_arn
        for secret in (admin, app):  # the init: the Data API as admin, and the app password it sets
            key.grant_secret(self.schema_init.function, secret)
        rotation = self.app_credentials.rotation_role
        key.grant_secret(rotation, admin)
        key.grant_secret(rotation, app, write=True)
        key.grant_secret(rotation, scratch, write=True)
        self.consumer_policy.add_statements(
            iam.PolicyStatement(
                sid="DecryptTheAppSecret",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions=secrets_manager_conditions(app),
            )
        )

    @property
    def secret_arn(self) -> str:
        """The app secret: what agents are handed."""
        return self.app_credentials.secret.secret_arn

    @property
    def admin_secret_arn(self) -> str:
        assert self.cluster.secret is not None
        return self.cluster.secret.secret_arn

    def _network(self, profile: DatabaseProfile, removal: RemovalPolicy) -> ec2.IVpc:
        if profile.vpc_id:
            # Needs AWS credentials (or cdk.context.json) at synth: CDK looks the VPC up.
            return ec2.Vpc.from_lookup(self, "Vpc", vpc_id=profile.vpc_id)
        flow_log_group = logs.LogGroup(
            self,
            "VpcFlowLogs",
            retention=RETENTION_BY_DAYS[profile.log_retention_days],
            removal_policy=removal,
        )
        return ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            create_internet_gateway=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            # An isolated VPC carries almost no traffic, so flow logs cost ~nothing and satisfy auditors.
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )

    def _cluster(
        self, profile: DatabaseProfile, removal: RemovalPolicy, log_removal: RemovalPolicy
    ) -> rds.DatabaseCluster:
        identifier = cluster_identifier(profile)
        # Own the log group instead of `cloudwatch_logs_retention`, which deploys a LogRetention Lambda.
        postgres_logs = logs.LogGroup(
            self,
            "PostgresLogs",
            log_group_name=f"/aws/rds/cluster/{identifier}/postgresql",
            retention=RETENTION_BY_DAYS[profile.log_retention_days],
            # RDS writes to this fixed name: a copy retained by a decommission would make the next
            # create of the profile fail ("already exists"), so decommission deletes it with the stack
            # (export it first if it must be kept: docs in the decommission steps).
            removal_policy=RemovalPolicy.DESTROY if profile.decommission else log_removal,
        )
        insights = (
            {
                "enable_performance_insights": True,
                "performance_insight_retention": rds.PerformanceInsightRetention.DEFAULT,
            }
            if profile.observability
            else {}
        )
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION)
        cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            parameter_group=rds.ParameterGroup(
                self,
                "ClusterParameters",
                engine=engine,
                description=f"alex-{profile.name}: hardened settings for the Alex cluster",
                parameters=CLUSTER_PARAMETERS,
            ),
            cluster_identifier=identifier,
            writer=rds.ClusterInstance.serverless_v2("writer", auto_minor_version_upgrade=True, **insights),
            # Database Insights standard mode: Performance Insights with the free 7-day retention.
            database_insights_mode=rds.DatabaseInsightsMode.STANDARD if profile.observability else None,
            enable_performance_insights=profile.observability or None,
            performance_insight_retention=(rds.PerformanceInsightRetention.DEFAULT if profile.observability else None),
            monitoring_interval=Duration.seconds(60) if profile.observability else None,
            readers=[
                rds.ClusterInstance.serverless_v2(f"reader{i + 1}", scale_with_writer=True, **insights)
                for i in range(profile.reader_count)
            ],
            serverless_v2_min_capacity=profile.min_capacity,
            serverless_v2_max_capacity=profile.max_capacity,
            serverless_v2_auto_pause_duration=(
                Duration.seconds(profile.auto_pause_seconds) if profile.auto_pause_seconds else None
            ),
            enable_data_api=True,
            # RDS creates, stores and rotates the master password itself: no secret value in the
            # template, no rotation Lambda, no Secrets Manager VPC endpoint.
            credentials=rds.Credentials.from_username(
                profile.master_username, encryption_key=self.data_key.key if self.data_key else None
            ),
            manage_master_user_password=True,
            default_database_name=profile.database_name,
            storage_encrypted=True,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.security_group],
            cloudwatch_logs_exports=["postgresql"],
            backup=rds.BackupProps(retention=Duration.days(profile.backup_retention_days)),
            deletion_protection=profile.protected,
            removal_policy=removal,
            copy_tags_to_snapshot=True,
        )
        cluster.node.add_dependency(postgres_logs)
        cfn_cluster = cluster.node.default_child
        # DatabaseName, StorageEncrypted and DBSubnetGroupName are create-only: changing one means a
        # replacement, which CloudFormation refuses for a custom-named cluster - and if it ever
        # happened, the old cluster leaves a snapshot in every profile rather than vanishing.
        cfn_cluster.cfn_options.update_replace_policy = CfnDeletionPolicy.SNAPSHOT
        if profile.protected:
            # CloudFormation deletes instances before the cluster, and RDS lets an instance go while the
            # cluster is deletion-protected: the writer is retained so a delete cannot leave the
            # cluster writer-less (termination protection stops the delete before it starts anyway).
            cluster.node.find_child("writer").node.default_child.apply_removal_policy(
                RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            )
        guardrails.acknowledge(
            cluster.node.default_child,
            "AwsSolutions-RDS6",
            reason="IAM database authentication guards network connections to PostgreSQL; this cluster has none: "
            "isolated subnets, a security group with zero ingress rules, and every client uses the RDS Data "
            "API, which is itself authorised by IAM (rds-data actions on this cluster ARN) plus the secret.",
        )
        if not profile.protected:
            guardrails.acknowledge(
                cluster.node.default_child,
                "AwsSolutions-RDS10",
                reason="The dev profile must be removable by `cdk destroy` so that nothing billable remains, and a "
                "decommissioned prod is on its way out; prod enables deletion protection (tests/infra asserts it).",
            )
        if profile.observability:
            guardrails.acknowledge(
                cluster.node.find_child("MonitoringRole"),
                "AwsSolutions-IAM4",
                reason="Enhanced monitoring's role uses AmazonRDSEnhancedMonitoringRole, the policy AWS documents for "
                "it: RDS writes OS metrics to its own account-wide RDSOSMetrics log group and nothing else.",
                finding="[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
            )
        return cluster

    def _own_singleton_log_groups(self, profile: DatabaseProfile, removal: RemovalPolicy) -> None:
        """Point CDK's own singleton functions at log groups this stack owns (retention, and gone on destroy)."""
        provider = self.node.try_find_child(RESTRICT_DEFAULT_SG_PROVIDER)
        if provider is None:  # an imported VPC: no restrict-default-SG custom resource
            return
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource)
        log_group = logs.LogGroup(
            self,
            "RestrictDefaultSgLogs",
            retention=RETENTION_BY_DAYS[profile.log_retention_days],
            removal_policy=removal,
        )
        handler.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
        handler.node.add_dependency(log_group)
        # Its role carries AWSLambdaBasicExecutionRole (logs:* on every log group), which no cdk-nag
        # pack sees on this plain resource: replace it with writing to its own log group only.
        role = provider.node.find_child("Role")
        assert isinstance(role, CfnResource)
        role.add_property_deletion_override("ManagedPolicyArns")
        own_logs = iam.CfnPolicy(
            self,
            "RestrictDefaultSgLogsPolicy",
            policy_name="OwnLogGroupOnly",
            roles=[role.ref],
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": log_group.log_group_arn,
                    }
                ],
            },
        )
        handler.add_resource_dependency(own_logs)

    def _outputs(self, profile: DatabaseProfile) -> None:
        values = {
            "ClusterArn": (
                self.cluster.cluster_arn,
                "cluster-arn",
                "Aurora cluster ARN (Data API resourceArn)",
            ),
            "SecretArn": (self.secret_arn, "secret-arn", "Secrets Manager ARN of the agents' DML-only credentials"),
            "AdminSecretArn": (
                self.admin_secret_arn,
                "admin-secret-arn",
                "Secrets Manager ARN of the master credentials: schema tooling only, never agents",
            ),
            "DatabaseName": (profile.database_name, "database-name", "Database name for Data API calls"),
            "ConsumerPolicyArn": (
                self.consumer_policy.managed_policy_arn,
                "consumer-policy-arn",
                "Managed policy granting Data API access; attach it to agent roles",
            ),
        }
        CfnOutput(
            self,
            "Profile",
            value=profile.name,
            description="Deployment profile; alex-db treats a stack whose profile is protected as prod",
        )
        CfnOutput(
            self,
            "SchemaVersion",
            value=self.schema_init.schema_version,
            description="Newest migration version applied to the database by this deploy's schema init",
        )
        for output_id, (value, parameter, description) in values.items():
            CfnOutput(
                self,
                output_id,
                value=value,
                description=description,
                export_name=f"{self.stack_name}-{output_id}",
            )
            ssm.StringParameter(
                self,
                f"{output_id}Parameter",
                parameter_name=f"/alex/{profile.name}/database/{parameter}",
                string_value=value,
                description=description,
            )


def build_database_stack(app: Construct) -> DatabaseStack:
    """The stack for the profile chosen in context; env-agnostic unless CDK_DEFAULT_* are set."""
    context = {
        key: app.node.try_get_context(key)
        for key in (PROFILES_CONTEXT_KEY, PROFILE_CONTEXT_KEY, VPC_ID_CONTEXT_KEY, DECOMMISSION_CONTEXT_KEY)
    }
    # Overridable so tests can synth against broken copies; relative to the project root.
    migrations_dir = ROOT / (app.node.try_get_context("migrations_dir") or "migrations")
    seed_dir = ROOT / (app.node.try_get_context("seed_dir") or "seed")
    profile = load_profile(context)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    guardrails.register_security_checks(app)
    stack = DatabaseStack(
        app,
        stack_name(profile.name),
        profile=profile,
        migrations_dir=migrations_dir,
        seed_dir=seed_dir,
        env=env,
        description=f"Alex database ({profile.name}): Aurora Serverless v2 PostgreSQL with the RDS Data API",
        # A protected profile cannot be deleted at all until `make deploy DECOMMISSION=1` turns this off.
        termination_protection=profile.protected,
        tags={PROFILE_TAG: profile.name},
    )
    return stack
