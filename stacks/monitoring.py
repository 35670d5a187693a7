"""Operator alarms for a profile with observability on: capacity near its maximum, deadlocks, failed
secret rotations -> an encrypted SNS topic whose policy lets CloudWatch (this account's alarms) publish."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# 5-minute periods; a condition must hold for 3 of them (15 minutes) before anyone is paged.
PERIOD = Duration.minutes(5)
EVALUATION_PERIODS = 3
# On Serverless v2, CPUUtilization and FreeableMemory are relative to the *maximum* capacity, so
# they say the same as ACUUtilization (capacity as a percentage of the maximum), only later. AWS:
# "Performance and scaling for Aurora Serverless v2" - "Important Amazon CloudWatch metrics".
ACU_UTILIZATION_PERCENT = 90
CLOUDWATCH = "cloudwatch.amazonaws.com"


def alarm_source_arn() -> str:
    """Every CloudWatch alarm of this account and region (aws:SourceArn of an alarm's sns:Publish)."""
    return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"


def cloudwatch_alarms_condition() -> dict:
    """Scopes a service-principal statement to this account's alarms (confused-deputy protection)."""
    return {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": alarm_source_arn()}}


class DatabaseAlarms(Construct):
    """Alarms on the cluster (and on the rotation function) and the encrypted SNS topic they notify."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: rds.DatabaseCluster,
        max_capacity: float,
        email: str | None,
        rotation_function: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, id)
        # The AWS-managed alias/aws/sns key cannot be granted to CloudWatch, so the topic has its own
        # ($1/month). AWS Knowledge Center "cloudwatch-receive-sns-for-alarm-trigger": the key policy
        # must allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*.
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Alex database alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=cloudwatch_alarms_condition(),
            )
        )
        self.topic = sns.Topic(self, "Topic", display_name="Alex database alarms", master_key=key, enforce_ssl=True)
        # enforce_ssl emits an AWS::SNS::TopicPolicy, which *replaces* SNS's default access policy:
        # without this Allow, CloudWatch is "not authorized to perform: SNS:Publish" and every alarm
        # fails silently (AWS Knowledge Center "cloudwatch-receive-sns-for-alarm-trigger").
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=cloudwatch_alarms_condition(),
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms = [
            self._alarm(
                "CapacityNearMaximum",
                cluster.metric_acu_utilization(period=PERIOD, statistic="Average"),
                threshold=ACU_UTILIZATION_PERCENT,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"Serverless v2 capacity at {ACU_UTILIZATION_PERCENT}%+ of its maximum "
                f"({max_capacity} ACU) for 15 minutes (CPU and memory are relative to that maximum too): "
                "raise max_capacity or find the query that needs it",
            ),
            self._alarm(
                "Deadlocks",
                cluster.metric_deadlocks(period=PERIOD, statistic="Sum"),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description="PostgreSQL detected deadlocks: two writers lock the same rows in opposite orders",
                evaluation_periods=1,
            ),
        ]
        if rotation_function is not None:
            # Secrets Manager rotates asynchronously: a failing rotation never fails a deploy and is
            # otherwise seen by nobody. Any error of the rotation function pages.
            self.alarms.append(
                self._alarm(
                    "RotationFailed",
                    rotation_function.metric_errors(period=PERIOD, statistic="Sum"),
                    threshold=0,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    description="The app-secret rotation failed: see the rotation function's log group; "
                    "agents keep working on the previous credentials until it is fixed",
                    evaluation_periods=1,
                )
            )

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.Metric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        evaluation_periods: int = EVALUATION_PERIODS,
    ) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(
            self,
            id,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            alarm_description=description,
            # No data while auto-paused or before the first query: not an incident.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm
