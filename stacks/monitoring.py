"""Operator alarms for a profile with observability on: capacity at its maximum, CPU, memory, deadlocks -> SNS."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# 5-minute periods; a condition must hold for 3 of them (15 minutes) before anyone is paged.
PERIOD = Duration.minutes(5)
EVALUATION_PERIODS = 3
CPU_PERCENT = 80
FREEABLE_MEMORY_BYTES = 256 * 1024 * 1024  # Serverless v2 has ~2 GiB per ACU; under 256 MiB means swapping soon


class DatabaseAlarms(Construct):
    """Four alarms on the cluster and an encrypted SNS topic they notify (email subscription optional)."""

    def __init__(
        self, scope: Construct, id: str, *, cluster: rds.DatabaseCluster, max_capacity: float, email: str | None
    ) -> None:
        super().__init__(scope, id)
        # CloudWatch can publish only to topics whose key lets it: an AWS-managed alias/aws/sns key
        # cannot be granted, so the topic gets its own key ($1/month).
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Alex database alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", display_name="Alex database alarms", master_key=key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms = [
            self._alarm(
                "CapacityAtMaximum",
                cluster.metric_serverless_database_capacity(period=PERIOD, statistic="Maximum"),
                threshold=max_capacity,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"Serverless v2 capacity at its maximum ({max_capacity} ACU) for 15 minutes: raise "
                "max_capacity or find the query that needs it",
            ),
            self._alarm(
                "HighCpu",
                cluster.metric_cpu_utilization(period=PERIOD),
                threshold=CPU_PERCENT,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"CPU above {CPU_PERCENT}% for 15 minutes",
            ),
            self._alarm(
                "LowFreeableMemory",
                cluster.metric_freeable_memory(period=PERIOD, statistic="Minimum"),
                threshold=FREEABLE_MEMORY_BYTES,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                description="Freeable memory under 256 MiB for 15 minutes",
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
