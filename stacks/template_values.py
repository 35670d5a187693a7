"""Plausible physical values for a synthesized template: Ref, Fn::GetAtt, Join, Sub, ImportValue, SSM parameters.

Offline evaluators need ARNs, not tokens: the access-flow tests (tests/infra/access_model.py) and the
IAM policy lint of `make compliance` (stacks/compliance.py) resolve every intrinsic to the ARN AWS
would assign in account 123456789012, us-east-1. An intrinsic this module does not know raises.
"""

from __future__ import annotations

import re
from typing import Any

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
PARTITION = "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class UnsupportedPolicy(Exception):
    """The template uses something this evaluator does not model: extend it (with its AWS source) first."""


def root(account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:iam::{account}:root"


def arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


class ResolvedTemplate:
    """Resolves Ref/GetAtt/Join/Sub/ImportValue/SSM parameters of a template to plausible physical values."""

    def __init__(
        self, template: dict[str, Any], *, stack_name: str = "Stack", imports: dict[str, str] | None = None
    ) -> None:
        self.template, self.stack_name = template, stack_name
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.imports = imports or {}

    # -- physical values of resources

    def name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        props = resource.get("Properties", {})
        for key in ("LogGroupName", "DBClusterIdentifier", "Name", "FunctionName", "RoleName", "TopicName"):
            if isinstance(props.get(key), str):
                return props[key]
        return logical_id

    def ref(self, logical_id: str) -> Any:
        if logical_id in PSEUDO:
            return PSEUDO[logical_id]
        if logical_id == "AWS::StackName":
            return self.stack_name
        if logical_id == "AWS::StackId":
            return arn("cloudformation", f"stack/{self.stack_name}/0f0f0f0f")
        if logical_id in self.template.get("Parameters", {}):
            return self.parameter(logical_id)
        kind = self.resources[logical_id]["Type"]
        name = self.name(logical_id)
        return {
            "AWS::SecretsManager::Secret": arn("secretsmanager", f"secret:{name}-AbCdEf"),
            "AWS::SNS::Topic": arn("sns", name),
            "AWS::IAM::ManagedPolicy": f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{name}",
            # CloudFormation: "Ref returns the ARN of the created state machine" (AWS::StepFunctions::StateMachine).
            "AWS::StepFunctions::StateMachine": arn("states", f"stateMachine:{name}"),
        }.get(kind, name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.name(logical_id)
        known = {
            ("AWS::KMS::Key", "Arn"): arn("kms", f"key/{name}"),
            ("AWS::Lambda::Function", "Arn"): arn("lambda", f"function:{name}"),
            ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            ("AWS::Logs::LogGroup", "Arn"): arn("logs", f"log-group:{name}:*"),
            ("AWS::SNS::Topic", "TopicArn"): arn("sns", name),
            ("AWS::CloudWatch::Alarm", "Arn"): arn("cloudwatch", f"alarm:{name}"),
            ("AWS::RDS::DBCluster", "DBClusterArn"): arn("rds", f"cluster:{name}"),
            ("AWS::EC2::VPC", "DefaultSecurityGroup"): "sg-0a1b2c3d4e5f60789",
            ("AWS::EC2::SecurityGroup", "GroupId"): "sg-0f1e2d3c4b5a69788",
            ("AWS::RDS::DBCluster", "MasterUserSecret.SecretArn"): arn(
                "secretsmanager", f"secret:rds!cluster-{name}-Xy12Z"
            ),
        }
        # Anything else (a security group id, a VPC's default SG) is opaque: it matches only "*".
        return known.get((kind, attribute), f"opaque:{logical_id}.{attribute}")

    def parameter(self, name: str) -> str:
        """A template parameter; SSM-typed ones resolve to the SSM parameter this (or an imported) template writes."""
        parameter = self.template["Parameters"][name]
        if "SSM::Parameter::Value" in parameter.get("Type", "") and parameter.get("Default") in self.imports:
            return self.imports[parameter["Default"]]
        raise UnsupportedPolicy(f"template parameter {name} has no plausible value")

    # -- intrinsics

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.resolve(v) for k, v in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, attribute)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(p)) for p in parts)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
        if function == "Fn::ImportValue":
            name = self.resolve(argument)
            if name not in self.imports:
                raise UnsupportedPolicy(f"Fn::ImportValue {name}: no such export")
            return self.imports[name]
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(index)]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        raise UnsupportedPolicy(f"intrinsic {function}")

    def _sub(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name and not name.startswith("AWS::"):
            return str(self.get_att(*name.split(".", 1)))
        return str(self.ref(name))

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def exports(self) -> dict[str, str]:
        """Export name -> value, and SSM parameter name -> value, for templates that import this one."""
        found = {
            self.resolve(o["Export"]["Name"]): self.resolve(o["Value"])
            for o in self.template.get("Outputs", {}).values()
            if "Export" in o
        }
        for parameter in self.of_type("AWS::SSM::Parameter").values():
            found[parameter["Properties"]["Name"]] = self.resolve(parameter["Properties"]["Value"])
        return found
