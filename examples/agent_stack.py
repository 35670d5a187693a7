"""A sample Alex agent stack wired to the database with AlexDatabaseRef (synthesized by the tests, never deployed)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.consumer import AlexDatabaseRef

AGENT_CODE = """
from alex_db import Database

def handler(event, context):
    db = Database()  # AURORA_CLUSTER_ARN, AURORA_SECRET_ARN, AURORA_DATABASE from the environment
    return {"instruments": len(db.instruments.find_all())}
"""


class PlannerAgentStack(cdk.Stack):
    """One agent Lambda that reads the instruments through the Data API as the DML-only app role."""

    def __init__(self, scope: Construct, id: str, *, profile: str = "dev", **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        db = AlexDatabaseRef.from_ssm(self, "AlexDb", profile=profile)
        self.agent = lambda_.Function(
            self,
            "Planner",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(AGENT_CODE),  # a real agent ships alex_db in its asset or a layer
            environment=db.environment,
        )
        db.grant_data_api_access(self.agent)


if __name__ == "__main__":
    app = cdk.App()
    PlannerAgentStack(app, "AlexPlannerAgent-dev")
    app.synth()
