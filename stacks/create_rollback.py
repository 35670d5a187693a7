"""CreateRollbackRelease: a deletion-protected cluster whose first create fails still rolls back cleanly.

RDS refuses to delete a cluster with deletion protection, CloudFormation's rollback included
(ROLLBACK_FAILED, and the fixed cluster name blocks the retry). The cluster keeps
`DeletionProtection: true` from its first minute - the template stays the truth, no drift - and this
custom resource, created right after it, switches protection off only while the stack rolls back its
first create (lambda_src/protection_release). For that to cover every failure, nothing may be in
flight while the cluster exists and the release does not: `attach` makes the cluster wait for
everything it does not need to (VPC helpers, this resource's function) and everything else wait for
the release. Cost: one small Lambda and its provider, and the non-network resources start only once
the cluster is available (a minute or two longer first deploy).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnResource, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct, IConstruct

from stacks.functions import custom_resource_provider, log_only_role, python_function

RESOURCE_TYPE = "Custom::AlexCreateRollbackRelease"


class CreateRollbackRelease(Construct):
    """Releases the cluster's deletion protection when (and only when) the stack's first create rolls back."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier: str,
        code: lambda_.Code,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        handler_logs = logs.LogGroup(self, "HandlerLogs", retention=log_retention, removal_policy=log_removal_policy)
        role = log_only_role(
            self, "HandlerRole", handler_logs, "Alex: release deletion protection when the first create rolls back"
        )
        role.add_to_policy(iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[Aws.STACK_ID]))
        # The ARN from the fixed identifier, not a Ref: this function must exist before the cluster.
        cluster_arn = f"arn:{Aws.PARTITION}:rds:{Aws.REGION}:{Aws.ACCOUNT_ID}:cluster:{cluster_identifier}"
        role.add_to_policy(
            iam.PolicyStatement(actions=["rds:ModifyDBCluster", "rds:DescribeDBClusters"], resources=[cluster_arn])
        )
        self.function = python_function(
            self,
            "Handler",
            description="Alex: switches the cluster's deletion protection off only while its first create rolls back",
            handler="protection_release.handler.on_event",
            code=code,
            timeout=Duration.minutes(3),
            log_group=handler_logs,
            role=role,
        )
        self.provider = custom_resource_provider(
            self, "Provider", on_event=self.function, log_retention=log_retention, log_removal_policy=log_removal_policy
        )

    def attach(self, cluster: rds.DatabaseCluster, *, before_cluster: list[IConstruct]) -> CustomResource:
        """The release resource on `cluster`, ordered so that nothing can fail while it does not exist yet.

        The cluster waits for `before_cluster`, its own subnet group and this construct's function;
        every other resource of the stack (instances, secrets, init, alarms, outputs) waits for the release.
        """
        resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={"ClusterIdentifier": cluster.cluster_identifier},  # a Ref: created after the cluster
        )
        cfn_cluster, release = cluster.node.default_child, resource.node.default_child
        assert isinstance(cfn_cluster, CfnResource) and isinstance(release, CfnResource)
        # jsii hands out a new proxy per access: compare construct paths, never Python identity.
        later = {cfn_cluster.node.path, resource.node.path}
        later |= {c.node.path for c in cluster.node.children if c.node.id == "writer" or c.node.id.startswith("reader")}
        first = [*before_cluster, *self.node.children, *cluster.node.children]
        first_paths = {d.node.path for c in first if c.node.path not in later for d in c.node.find_all()}
        for child in Stack.of(self).node.find_all():
            if not isinstance(child, CfnResource) or child.node.path in (cfn_cluster.node.path, release.node.path):
                continue
            if child.node.path in first_paths:
                cfn_cluster.add_resource_dependency(child)
            else:
                child.add_resource_dependency(release)
        return resource
