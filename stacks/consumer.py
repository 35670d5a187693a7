"""AlexDatabaseRef: how an agent's stack finds this database and lets a Lambda use it, in three lines.

    db = AlexDatabaseRef.from_ssm(self, "AlexDb", profile="dev")
    agent = lambda_.Function(self, "Planner", ..., environment=db.environment)
    db.grant_data_api_access(agent)

`from_ssm` reads the `/alex/<profile>/database/*` parameters at deploy time (stacks in any app or
account setup); `from_exports` imports the CloudFormation exports (same account and region, and
CloudFormation then refuses to delete the database stack while an agent stack uses them).
Agents get the DML-only app secret; the master secret is never part of this reference.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from alex_db.connection import ENV_CLUSTER_ARN, ENV_DATABASE, ENV_SECRET_ARN
from stacks.access import DATA_API_ACTIONS
from stacks.data_protection import secrets_manager_conditions
from stacks.database_stack import stack_name

# The outputs/parameters the reference needs, by the name DatabaseStack gives them.
PARAMETERS = {"cluster_arn": "cluster-arn", "secret_arn": "secret-arn", "database_name": "database-name"}
EXPORTS = {"cluster_arn": "ClusterArn", "secret_arn": "SecretArn", "database_name": "DatabaseName"}


class AlexDatabaseRef(Construct):
    """The deployed Alex database as seen from another stack: ARNs, database name, grant, environment."""

    def __init__(self, scope: Construct, id: str, *, cluster_arn: str, secret_arn: str, database_name: str) -> None:
        super().__init__(scope, id)
        self.cluster_arn, self.secret_arn, self.database_name = cluster_arn, secret_arn, database_name

    @classmethod
    def from_ssm(cls, scope: Construct, id: str, *, profile: str = "dev") -> AlexDatabaseRef:
        """From the SSM parameters `/alex/<profile>/database/*` (resolved by CloudFormation at deploy)."""
        values = {
            key: ssm.StringParameter.value_for_string_parameter(scope, f"/alex/{profile}/database/{name}")
            for key, name in PARAMETERS.items()
        }
        return cls(scope, id, **values)

    @classmethod
    def from_exports(cls, scope: Construct, id: str, *, profile: str = "dev") -> AlexDatabaseRef:
        """From the exports of stack AlexDatabase-<profile> (same account and region)."""
        values = {key: Fn.import_value(f"{stack_name(profile)}-{name}") for key, name in EXPORTS.items()}
        return cls(scope, id, **values)

    @property
    def environment(self) -> dict[str, str]:
        """What `Database()` / `DataApiClient.from_env()` read, for a Lambda's `environment`."""
        return {ENV_CLUSTER_ARN: self.cluster_arn, ENV_SECRET_ARN: self.secret_arn, ENV_DATABASE: self.database_name}

    def grant_data_api_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """rds-data on the cluster and read of the app secret: exactly what the Data API needs."""
        # Where the secret is under the database stack's customer-managed key (prod), reading it also
        # needs kms:Decrypt: granted for this secret only, and only through Secrets Manager. The key's
        # ARN is not exported, so the resource is this account's keys, narrowed by the conditions.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"],
                conditions=secrets_manager_conditions(self.secret_arn),
            )
        )
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=list(DATA_API_ACTIONS.rds_data), resource_arns=[self.cluster_arn]
        )
        return grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee, actions=list(DATA_API_ACTIONS.secret_read), resource_arns=[self.secret_arn]
            )
        )
