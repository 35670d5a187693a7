"""Least-privilege Data API access: the rds-data actions and one secret's read (the app secret for agents)."""

from __future__ import annotations

from typing import NamedTuple

from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
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


def grant_data_api(grantee: iam.IGrantable, cluster: rds.IDatabaseCluster, secret: secretsmanager.ISecret) -> iam.Grant:
    """rds-data on `cluster` and read of `secret` (the credential the Data API will log in with)."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=list(DATA_API_ACTIONS.rds_data), resource_arns=[cluster.cluster_arn]
    )
    return grant.combine(
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(DATA_API_ACTIONS.secret_read), resource_arns=[secret.secret_arn]
        )
    )


class DataApiConsumerPolicy(Construct):
    """A customer-managed policy that lets the agents use this cluster over the Data API, as the app role only."""

    def __init__(
        self, scope: Construct, id: str, *, cluster: rds.DatabaseCluster, secret: secretsmanager.ISecret
    ) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Alex Aurora cluster: Data API calls on the cluster and read of the agents' DML-only secret",
            statements=[
                iam.PolicyStatement(
                    sid="DataApiOnThisCluster",
                    actions=list(DATA_API_ACTIONS.rds_data),
                    resources=[cluster.cluster_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadTheAppSecret",
                    actions=list(DATA_API_ACTIONS.secret_read),
                    resources=[secret.secret_arn],
                ),
            ],
        )
