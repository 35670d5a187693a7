"""SchemaInit construct: validates migrations and seeds at synth, bundles the init Lambda (no Docker)
and runs it through the Provider framework after the writer instance exists."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CustomResource,
    DockerImage,
    Duration,
    RemovalPolicy,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from alex_db.authoring.manifest_builder import build_manifest
from alex_db.deploy.manifest import migration_labels
from stacks.access import DATA_API_ACTIONS, grant_data_api
from stacks.functions import custom_resource_provider, log_only_role, python_function
from stacks.init_asset import LAMBDA_SRC, InitAssetBundler

# Data API retry budget (120 s) + a few seconds of DDL per migration, with room for one slow
# statement near the Data API's 45 s limit. A no-transaction statement that runs longer (a
# concurrent index build on a big table) is waited for by the Provider's isComplete handler.
HANDLER_TIMEOUT = Duration.minutes(5)


class SchemaInit(Construct):
    """Runs alex_db.init.initialize() against the cluster on every deploy whose manifest changed."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: rds.DatabaseCluster,
        database_name: str,
        migrations_dir: Path,
        seed_dir: Path,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
        app_secret: secretsmanager.ISecret,
        app_role: str,
        lock_timeout_seconds: float = 5,
    ) -> None:
        super().__init__(scope, id)
        # Raises MigrationFileError (file:line) or SeedError (symbol, field): synth fails right here.
        self.manifest = build_manifest(migrations_dir, seed_dir)
        manifest_hash = self.manifest["manifest_hash"]

        handler_logs = logs.LogGroup(self, "HandlerLogs", retention=log_retention, removal_policy=log_removal_policy)
        # One asset for the init and the rotation handlers (alex_db.deploy is their shared code).
        self.code = lambda_.Code.from_asset(
            str(LAMBDA_SRC),
            # The manifest comes from outside lambda_src: hash what is bundled, not the source dir.
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling-only"),
                local=InitAssetBundler(LAMBDA_SRC, self.manifest),
            ),
        )
        role = log_only_role(
            self, "HandlerRole", handler_logs, "Alex schema-init Lambda: its own logs and the Data API"
        )

        def handler(id: str, entry: str, description: str) -> lambda_.Function:
            # Same code, role and logs for both entry points: they run the same initialize().
            return python_function(
                self, id, description=description, handler=f"schema_init.handler.{entry}", code=self.code,
                timeout=HANDLER_TIMEOUT, log_group=handler_logs, role=role,
            )  # fmt: skip

        self.function = handler(
            "Handler", "on_event", "Alex schema init: applies migrations and seed data through the RDS Data API"
        )
        # The Provider's waiter calls this until a no-transaction migration still running when
        # on_event's time ran out is done (a concurrent index build on a big table).
        self.is_complete_function = handler(
            "IsComplete", "is_complete", "Alex schema init: waits for a long migration statement, then records it"
        )
        assert cluster.secret is not None
        # Explicit statements, not cluster.grant_data_api_access: with a customer-managed key CDK would
        # also write this role into the key policy (a dependency cycle with the cluster).
        grant_data_api(self.function, cluster, cluster.secret)
        # To set the app login's password (as a SCRAM verifier). Explicit, not secret.grant_read: with a
        # customer-managed key that would put this role into the key policy (a dependency cycle with the
        # cluster); the stack grants kms:Decrypt for this one secret instead (stacks/data_protection.py).
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(DATA_API_ACTIONS.secret_read), resources=[app_secret.secret_arn])
        )

        provider = custom_resource_provider(
            self,
            "Provider",
            on_event=self.function,
            is_complete=self.is_complete_function,
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
        assert cluster.secret is not None
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::AlexSchemaInit",
            properties={
                "ClusterArn": cluster.cluster_arn,
                "SecretArn": cluster.secret.secret_arn,
                "Database": database_name,
                # Unchanged hashes -> unchanged properties -> CloudFormation never invokes the Lambda.
                "ManifestHash": manifest_hash,
                "MigrationsHash": self.manifest["migrations_hash"],
                "SeedHash": self.manifest["seed_hash"],
                # So `cdk diff` shows reviewers exactly which migrations a deploy adds.
                "Migrations": migration_labels(self.manifest),
                # The agents' role; its password is read from the secret by the function, never passed.
                "AppRole": app_role,
                "AppSecretArn": app_secret.secret_arn,
                # A string: CloudFormation passes custom resource properties as strings anyway.
                "LockTimeoutSeconds": f"{lock_timeout_seconds:g}",
            },
        )
        # The Data API answers only once an instance runs: depend on the writer, not just the cluster.
        writer = cluster.node.find_child("writer")
        self.resource.node.add_dependency(writer)

    @property
    def schema_version(self) -> str:
        return self.resource.get_att_string("SchemaVersion")
