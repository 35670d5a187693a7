"""Same-account IAM evaluation over a synthesized template: who may do what, as AWS would decide it.

Written here because no maintained library evaluates identity, resource and KMS key policies together
offline (parliament and cloudsplaining lint documents; the IAM policy simulator is an online API).
It is deliberately small and fails closed: an intrinsic, condition operator or principal form it does
not know raises, so a template change cannot slip past it as "allowed".

The rules, each with the AWS page that states it:

- An explicit Deny in any applicable policy wins; otherwise one Allow suffices; default deny.
  IAM User Guide, "Policy evaluation logic" (reference_policies_evaluation-logic.html).
- Same account: an Allow in the identity policy *or* in a resource policy naming the role is enough.
  Ibid., "How AWS enforcement code logic evaluates requests ... within a single account".
- A service principal has no identity policy: only a resource policy can allow it. Ibid.
- A topic without an AWS::SNS::TopicPolicy has SNS's default policy (account principals,
  AWS:SourceOwner); an AWS::SNS::TopicPolicy *replaces* it. SNS Developer Guide, "Example cases for
  Amazon SNS access control"; Knowledge Center "cloudwatch-receive-sns-for-alarm-trigger".
- KMS: the key policy must allow, directly, or by naming the account root *and* an identity policy
  allowing. KMS Developer Guide, "Key policies in AWS KMS" and "Default key policy".
- A service publishing to an encrypted topic needs kms:GenerateDataKey* and kms:Decrypt on its key.
  SNS Developer Guide, sns-key-management.html#compatibility-with-aws-services.
- A secret under the AWS-managed aws/secretsmanager key needs no key grant (its policy allows account
  principals through Secrets Manager). Secrets Manager User Guide, "Secret encryption and decryption".
- A service invokes a function only through a lambda:InvokeFunction permission matching principal,
  SourceArn and SourceAccount. Lambda Developer Guide, "Viewing resource-based IAM policies in Lambda".
- rds-data has no resource policies; the caller also needs secretsmanager:GetSecretValue on the
  secret it names. Aurora User Guide, "Authorizing access to the RDS Data API".
- Condition operators StringEquals, StringLike, ArnEquals, ArnLike, Bool with "*"/"?" wildcards; key
  names are case-insensitive. IAM User Guide, "IAM JSON policy elements: Condition operators".
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from stacks.template_values import (  # noqa: F401 - re-exported for the tests
    ACCOUNT,
    OTHER_ACCOUNT,
    PARTITION,
    REGION,
    ResolvedTemplate,
    UnsupportedPolicy,
    arn,
    root,
)

# -- principals and requests


@dataclass(frozen=True)
class Principal:
    """A role ARN (`role`) or a service principal (`service`), always of ACCOUNT unless `account` says otherwise."""

    role: str | None = None
    service: str | None = None
    account: str = ACCOUNT


@dataclass
class Request:
    principal: Principal
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _condition_holds(conditions: dict[str, Any], context: dict[str, Any]) -> bool:
    context = {k.lower(): v for k, v in context.items()}  # condition key names are case-insensitive
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            actual = context.get(key.lower())
            values = [str(v) for v in _as_list(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = actual is not None and str(actual) in values
            elif operator in ("StringLike", "ArnLike"):
                ok = actual is not None and any(_glob(v, str(actual)) for v in values)
            elif operator == "StringNotEquals":
                ok = actual is None or str(actual) not in values
            elif operator == "Bool":
                ok = actual is not None and str(actual).lower() in [v.lower() for v in values]
            else:
                raise UnsupportedPolicy(f"condition operator {operator}")
            if not ok:
                return False
    return True


def _principal_matches(statement_principal: Any, principal: Principal) -> bool:
    """The statement names this principal itself (not merely its account)."""
    if statement_principal == "*":
        return True
    if not isinstance(statement_principal, dict):
        raise UnsupportedPolicy(f"principal {statement_principal!r}")
    for kind, values in statement_principal.items():
        for value in _as_list(values):
            if kind == "Service" and principal.service == value:
                return True
            if kind == "AWS" and principal.role is not None and value in ("*", principal.role):
                return True
            if kind not in ("Service", "AWS"):
                raise UnsupportedPolicy(f"principal kind {kind}")
    return False


def _account_root_named(statement_principal: Any, principal: Principal) -> bool:
    """A key-policy statement that delegates to IAM policies of the principal's account."""
    return (
        isinstance(statement_principal, dict)
        and principal.role is not None
        and root(principal.account) in _as_list(statement_principal.get("AWS", []))
    )


def statement_effects(
    statements: list[dict[str, Any]], request: Request, *, resource_policy: bool, via_root: bool = False
) -> set[str]:
    """The effects ("Allow"/"Deny") of the statements that apply to `request`."""
    effects = set()
    for statement in statements:
        actions = statement.get("Action", statement.get("NotAction"))
        matched = any(_glob(a, request.action, case_sensitive=False) for a in _as_list(actions))
        if ("NotAction" in statement) == matched:
            continue
        resources = _as_list(statement.get("Resource", statement.get("NotResource", "*")))
        matched = any(_glob(str(r), request.resource) for r in resources)
        if ("NotResource" in statement) == matched:
            continue
        if resource_policy:
            # Naming the account root delegates to the account's IAM policies: such an Allow counts only
            # together with an identity policy (via_root), such a Deny covers every principal of it.
            who = statement.get("Principal")
            account_wide = _account_root_named(who, request.principal)
            if not (
                _principal_matches(who, request.principal)
                or (account_wide and (via_root or statement["Effect"] == "Deny"))
            ):
                continue
        if not _condition_holds(statement.get("Condition", {}), request.context):
            continue
        effects.add(statement["Effect"])
    return effects


class AccessModel:
    """Evaluates requests against one resolved template's identity, resource and key policies."""

    def __init__(self, resolved: ResolvedTemplate, *, extra_identity: dict[str, list[dict]] | None = None) -> None:
        self.t = resolved
        self.identity: dict[str, list[dict[str, Any]]] = {}
        for policy in {
            **resolved.of_type("AWS::IAM::Policy"),
            **resolved.of_type("AWS::IAM::ManagedPolicy"),
        }.values():
            document = resolved.resolve(policy["Properties"]["PolicyDocument"])
            for role in policy["Properties"].get("Roles", []):
                self.identity.setdefault(self._role_arn(resolved.resolve(role)), []).extend(document["Statement"])
        for logical_id, role in resolved.of_type("AWS::IAM::Role").items():
            statements = self.identity.setdefault(resolved.get_att(logical_id, "Arn"), [])
            for inline in role["Properties"].get("Policies", []):
                statements.extend(resolved.resolve(inline["PolicyDocument"])["Statement"])
        for role_arn, statements in (extra_identity or {}).items():
            self.identity.setdefault(role_arn, []).extend(statements)

    @staticmethod
    def _role_arn(name_or_arn: str) -> str:
        return name_or_arn if name_or_arn.startswith("arn:") else f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name_or_arn}"

    def role_arn(self, logical_id: str) -> str:
        return self.t.get_att(logical_id, "Arn")

    # -- resource policies by service

    def resource_policy(self, request: Request) -> list[dict[str, Any]] | None:
        """The statements of the resource policy on `request.resource`; None where the service has none."""
        service = request.action.split(":")[0].lower()
        if service == "sns":
            topic_policies = [
                self.t.resolve(p["Properties"]["PolicyDocument"])["Statement"]
                for p in self.t.of_type("AWS::SNS::TopicPolicy").values()
                if request.resource in self.t.resolve(p["Properties"]["Topics"])
            ]
            if topic_policies:  # replaces the default policy
                return [s for statements in topic_policies for s in statements]
            return [self._sns_default_statement(request.resource)]
        if service == "secretsmanager":
            return [
                s
                for p in self.t.of_type("AWS::SecretsManager::ResourcePolicy").values()
                if self.t.resolve(p["Properties"]["SecretId"]) == request.resource
                for s in self.t.resolve(p["Properties"]["ResourcePolicy"])["Statement"]
            ]
        if service == "lambda":
            return [
                self._lambda_permission_statement(p["Properties"])
                for p in self.t.of_type("AWS::Lambda::Permission").values()
                if self.t.resolve(p["Properties"]["FunctionName"]) == request.resource
            ]
        if service == "kms":
            key_id = request.resource.rsplit("/", 1)[-1]
            return self.t.resolve(self.t.resources[key_id]["Properties"]["KeyPolicy"])["Statement"]
        return None  # rds-data, logs, cloudformation, rds: identity policies only

    @staticmethod
    def _sns_default_statement(topic_arn: str) -> dict[str, Any]:
        # SNS's default topic policy: this account's principals (AWS:SourceOwner), publish and manage.
        return {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        }

    def _lambda_permission_statement(self, props: dict[str, Any]) -> dict[str, Any]:
        props = self.t.resolve(props)
        condition: dict[str, dict[str, str]] = {}
        if "SourceArn" in props:
            condition.setdefault("ArnLike", {})["aws:SourceArn"] = props["SourceArn"]
        if "SourceAccount" in props:
            condition.setdefault("StringEquals", {})["aws:SourceAccount"] = props["SourceAccount"]
        principal = props["Principal"]
        who = {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal}
        return {"Effect": "Allow", "Principal": who, "Action": props["Action"], "Resource": props["FunctionName"],
                "Condition": condition}  # fmt: skip

    # -- evaluation

    def evaluate(self, request: Request) -> Decision:
        principal = request.principal
        context = {**request.context}
        if principal.service is None:
            context.setdefault("AWS:SourceOwner", principal.account)
            context.setdefault("aws:PrincipalArn", principal.role)
        else:
            context.setdefault("AWS:SourceOwner", context.get("aws:SourceAccount"))
        request = Request(principal, request.action, request.resource, context)
        identity = self.identity.get(principal.role or "", []) if principal.service is None else []
        identity_effects = statement_effects(identity, request, resource_policy=False)
        resource = self.resource_policy(request)
        is_kms = request.action.lower().startswith("kms:")
        resource_effects = statement_effects(resource or [], request, resource_policy=True)
        if "Deny" in identity_effects | resource_effects:
            return Decision(False, "explicit Deny")
        if is_kms:
            if "Allow" in resource_effects:
                return Decision(True, "the key policy allows the principal")
            via_root = statement_effects(resource or [], request, resource_policy=True, via_root=True)
            if "Allow" in via_root and "Allow" in identity_effects and principal.account == ACCOUNT:
                return Decision(True, "the key policy allows the account and an identity policy allows")
            return Decision(False, "the key policy does not allow it")
        if "Allow" in resource_effects:
            return Decision(True, "a resource policy allows")
        if "Allow" in identity_effects and principal.account == ACCOUNT:
            return Decision(True, "an identity policy allows")
        return Decision(False, "no Allow (implicit deny)")

    def can(self, principal: Principal, action: str, resource: str, **context: Any) -> Decision:
        return self.evaluate(Request(principal, action, resource, context))
