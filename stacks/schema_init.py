"""SchemaInit construct: validates migrations and seeds at synth, bundles the init Lambda (no Docker)
and runs it through the Provider framework after the writer instance exists."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CustomResource,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import custom_resources as cr
from constructs import Construct

from alex_db.manifest import MANIFEST_FILE, build_manifest

LAMBDA_SRC = Path(__file__).resolve().parent.parent / "lambda_src"
# What the init Lambda imports: stdlib + boto3 only (tests/unit/test_lambda_imports.py checks it).
RUNTIME_MODULES = {
    "alex_db": ("__init__.py", "client.py", "codec.py", "init.py", "manifest.py", "migrations.py", "seed.py"),
    "schema_init": ("__init__.py", "handler.py"),
}
# Data API retry budget (120 s) + a few seconds of DDL per migration, with room for one slow
# statement near the Data API's 45 s limit. Longer data migrations belong in their own job.
HANDLER_TIMEOUT = Duration.minutes(5)
# boto3 imports and JSON work are CPU-bound; 256 MB halves the cold start of 128 MB for ~nothing.
HANDLER_MEMORY_MB = 256


@jsii.implements(ILocalBundling)
class InitAssetBundler:
    """Writes the runtime modules and the validated manifest into the asset directory."""

    def __init__(self, source: Path, manifest: dict[str, Any]) -> None:
        self.source, self.manifest = source, manifest

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        out = Path(output_dir)
        for package, modules in RUNTIME_MODULES.items():
            (out / package).mkdir(parents=True, exist_ok=True)
            for module in modules:
                shutil.copyfile(self.source / package / module, out / package / module)
        (out / MANIFEST_FILE).write_text(json.dumps(self.manifest, indent=1, sort_keys=True) + "\n")
        return True


def migration_labels(manifest: dict[str, Any]) -> list[str]:
    return [f"{m['version']:04d}_{m['name']}" for m in manifest["migrations"]]


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
    ) -> None:
        super().__init__(scope, id)
        # Raises MigrationFileError (file:line) or SeedError (symbol, field): synth fails right here.
        self.manifest = build_manifest(migrations_dir, seed_dir)
        manifest_hash = self.manifest["manifest_hash"]

        handler_logs = logs.LogGroup(self, "HandlerLogs", retention=log_retention, removal_policy=log_removal_policy)
        provider_logs = logs.LogGroup(self, "ProviderLogs", retention=log_retention, removal_policy=log_removal_policy)
        self.function = lambda_.Function(
            self,
            "Handler",
            description="Alex schema init: applies migrations and seed data through the RDS Data API",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="schema_init.handler.on_event",
            code=lambda_.Code.from_asset(
                str(LAMBDA_SRC),
                # The manifest comes from outside lambda_src: hash what is bundled, not the source dir.
                asset_hash_type=AssetHashType.OUTPUT,
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("unused-local-bundling-only"),
                    local=InitAssetBundler(LAMBDA_SRC, self.manifest),
                ),
            ),
            timeout=HANDLER_TIMEOUT,
            memory_size=HANDLER_MEMORY_MB,
            log_group=handler_logs,
            role=self._role("HandlerRole", handler_logs, "Alex schema-init Lambda: its own logs and the Data API"),
        )
        cluster.grant_data_api_access(self.function)

        framework_role = self._role("ProviderRole", provider_logs, "Alex schema-init Provider framework")
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.function,
            log_group=provider_logs,
            framework_on_event_role=framework_role,
        )
        # Where the Provider grants lambda:InvokeFunction on the handler (and its versions, ARN:*).
        self.framework_policy = framework_role.node.find_child("DefaultPolicy")
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
            },
        )
        # The Data API answers only once an instance runs: depend on the writer, not just the cluster.
        writer = cluster.node.find_child("writer")
        self.resource.node.add_dependency(writer)

    def _role(self, id: str, log_group: logs.LogGroup, description: str) -> iam.Role:
        """A Lambda role that may write to its own log group only (no AWSLambdaBasicExecutionRole)."""
        role = iam.Role(self, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
            )
        )
        return role

    @property
    def schema_version(self) -> str:
        return self.resource.get_att_string("SchemaVersion")
