"""`make integ`: deploy the dev settings as AlexDatabase-integ, assert through the Data API, destroy.

Assertions (CDK integ-tests, run by @aws-cdk/integ-runner): the schema version is the newest
migration, the 22 seed instruments exist, and a round trip through alex_db's client as the
agents' DML-only role succeeds (lambda_src/schema_init/smoke.py). Offline, `make test` only
compares this app's synthesized snapshot with the committed one (integ_alex_database.py.snapshot/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import integ_tests_alpha as integ  # noqa: E402

from alex_db.deploy.manifest import migrations_of  # noqa: E402
from stacks.config import PROFILES_CONTEXT_KEY, load_profile  # noqa: E402
from stacks.database_stack import DatabaseStack  # noqa: E402
from stacks.functions import log_only_role, python_function  # noqa: E402

CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


def build(app: cdk.App) -> integ.IntegTest:
    dev = CONTEXT[PROFILES_CONTEXT_KEY]["dev"]
    # The dev settings under their own name: cluster alex-integ, /alex/integ/* - never the real dev stack.
    profile = load_profile({PROFILES_CONTEXT_KEY: {"integ": dev}, "profile": "integ"})
    stack = DatabaseStack(app, "AlexDatabase-integ", profile=profile)
    smoke_logs = logs.LogGroup(
        stack, "SmokeLogs", retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY
    )
    smoke = python_function(
        stack,
        "Smoke",
        description="Alex integ: one round trip through alex_db as the DML-only app role",
        handler="schema_init.smoke.handler",
        code=stack.schema_init.code,
        timeout=cdk.Duration.minutes(3),
        log_group=smoke_logs,
        role=log_only_role(stack, "SmokeRole", smoke_logs, "Alex integ smoke check"),
        environment={
            "CLUSTER_ARN": stack.cluster.cluster_arn,
            "SECRET_ARN": stack.secret_arn,
            "DATABASE": profile.database_name,
            "APP_ROLE": profile.app_role,
        },
    )
    stack.grant_data_api_access(smoke)
    smoke.node.add_dependency(stack.schema_init.resource)

    test = integ.IntegTest(app, "AlexDatabaseInteg", test_cases=[stack], regions=["us-east-1"])
    newest = max(m.version for m in migrations_of(stack.schema_init.manifest))
    for sql, expected in (
        ("SELECT max(version) AS v FROM schema_migrations", [[{"longValue": newest}]]),
        ("SELECT count(*) AS n FROM instruments", [[{"longValue": 22}]]),
    ):
        call = test.assertions.aws_api_call(
            "RDSData",
            "executeStatement",
            {
                "resourceArn": stack.cluster.cluster_arn,
                "secretArn": stack.admin_secret_arn,
                "database": profile.database_name,
                "sql": sql,
            },
        )
        call.provider.add_to_role_policy(
            {"Effect": "Allow", "Action": ["rds-data:ExecuteStatement"], "Resource": [stack.cluster.cluster_arn]}
        )
        call.provider.add_to_role_policy(
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [stack.admin_secret_arn]}
        )
        call.expect(integ.ExpectedResult.object_like({"records": expected}))
    round_trip = test.assertions.invoke_function(function_name=smoke.function_name)
    round_trip.expect(
        integ.ExpectedResult.object_like(
            # No login user: the first rotation may already have switched to alex_app_2 (smoke.py).
            {"Payload": '{"ok": true, "app_group_member": true, "instruments": 22, "ddl_refused": true}'}
        )
    )
    return test


if __name__ == "__main__":
    app = cdk.App(context=CONTEXT)
    build(app)
    app.synth()
