"""Least-privilege Data API access: the rds-data actions and the secret read, as one grant."""

from __future__ import annotations

from typing import NamedTuple

from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct


class DataApiActions(NamedTuple):
    """What a Data API caller needs; named once so the policy and the tests agree."""

    rds_data: tuple[str, ...] = (
        "rds-data:BatchExecuteStatement",
        "rds-data:BeginTransaction",
        "rds-data:CommitTransaction",
        "rds-data:ExecuteStatement",
        "rds-data:RollbackTransaction",
    )
    secret_read: tuple[str, ...] = (
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    )


DATA_API_ACTIONS = DataApiActions()


class DataApiConsumerPolicy(Construct):
    """A customer-managed policy that lets the agents use this cluster over the Data API only."""

    def __init__(self, scope: Construct, id: str, *, cluster: rds.DatabaseCluster) -> None:
        super().__init__(scope, id)
        if cluster.secret is None:
            raise ValueError("the cluster has no secret: the Data API needs Secrets Manager credentials")
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Alex Aurora cluster: Data API calls on the cluster and read of its secret",
            statements=[
                iam.PolicyStatement(
                    sid="DataApiOnThisCluster",
                    actions=list(DATA_API_ACTIONS.rds_data),
                    resources=[cluster.cluster_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadThisClusterSecret",
                    actions=list(DATA_API_ACTIONS.secret_read),
                    resources=[cluster.secret.secret_arn],
                ),
            ],
        )
