"""CloudFormation's stack lifecycle, walked over a synthesized template: what is left, and can the next deploy run.

Pure functions over template dictionaries, each rule from the page that documents it:

- Resources are created after everything they reference (Ref, Fn::GetAtt, Fn::Sub) or name in DependsOn,
  and deleted in the reverse order. CloudFormation User Guide, "DependsOn attribute".
- When a create fails, CloudFormation starts no new resource, lets those in progress finish, and rolls
  back by deleting what it created; the worst case for a failure of R is that everything not depending
  on R exists. A custom resource whose create failed still receives Delete. Ibid., "Stack failure
  options"; "Custom resources" (request types).
- DeletionPolicy Retain keeps the resource on stack delete *and* create rollback; RetainExceptOnCreate
  keeps it except on create rollback; Snapshot deletes it after a final snapshot; the default deletes.
  A removed resource is deleted with the policy it had. Ibid., "DeletionPolicy attribute".
- RDS refuses to delete a cluster with DeletionProtection, from every API (rollback included), and
  a cluster that still has DB instances. RDS User Guide, "Deletion protection for Aurora clusters";
  "Deleting Aurora DB clusters and DB instances".
- Termination protection refuses a stack delete before anything is touched. CloudFormation User
  Guide, "Protect a stack from being deleted".
- A stack whose first create rolled back (ROLLBACK_COMPLETE) can only be deleted; the CDK CLI deletes
  it before it creates the stack again. A stack in ROLLBACK_FAILED or DELETE_FAILED needs a person.
  Ibid., "Stack status codes"; aws-cdk CLI deploy ("previously failed creation ... Deleting it").
- A create-only property change replaces the resource; CloudFormation refuses to replace a resource
  with a custom name ("cannot update a stack when a custom-named resource requires replacing").
  Ibid., "Update behaviors of stack resources"; create-only properties from the resource schema.
- A physical name that still exists (a retained log group, cluster, parameter) makes the next create
  of a resource with that name fail ("already exists"). Ibid., "Name type".
- Our own custom resource Custom::AlexCreateRollbackRelease switches the cluster's protection off when
  deleted while the stack is in ROLLBACK_IN_PROGRESS, and does nothing otherwise: that is what
  lambda_src/protection_release/handler.py does (tests/unit/test_protection_release.py proves it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Properties that give a resource a fixed physical name.
NAME_PROPERTIES = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::SSM::Parameter": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Backup::BackupVault": "BackupVaultName",
}
# Create-only properties (a change replaces the resource), from the CloudFormation resource schemas.
CREATE_ONLY = {
    "AWS::RDS::DBCluster": ("DBClusterIdentifier", "DatabaseName", "StorageEncrypted", "DBSubnetGroupName", "KmsKeyId"),
}
SNAPSHOT_TYPES = {"AWS::RDS::DBCluster"}
BILLABLE = {"AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret",
            "AWS::KMS::Key", "snapshot"}  # fmt: skip
RELEASE_TYPE = "Custom::AlexCreateRollbackRelease"


@dataclass(frozen=True)
class Leftover:
    logical_id: str
    type: str
    name: str | None  # the fixed physical name, if any
    why: str


@dataclass
class Account:
    """What one account holds for one stack name: the deployed template, its status, and orphans."""

    template: dict[str, Any] | None = None
    termination_protection: bool = False
    status: str = "NONE"
    leftovers: list[Leftover] = field(default_factory=list)
    manual_steps: list[str] = field(default_factory=list)

    @property
    def billable(self) -> list[Leftover]:
        return [item for item in self.leftovers if item.type in BILLABLE]


def fixed_name(resource: dict[str, Any]) -> str | None:
    name = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"], ""))
    return name if isinstance(name, str) else None


def references(value: Any) -> set[str]:
    """Logical ids `value` refers to (Ref, Fn::GetAtt, Fn::Sub), pseudo parameters excluded."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str) and not item.startswith("AWS::"):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".")[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text) if not m.startswith("AWS::")}
                if not isinstance(item, str):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found


def dependencies(template: dict[str, Any]) -> dict[str, set[str]]:
    resources = template["Resources"]
    graph = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        named = set(depends_on if isinstance(depends_on, list) else [depends_on])
        graph[logical_id] = (named | references(resource.get("Properties", {}))) & set(resources)
    return graph


def creation_order(template: dict[str, Any]) -> list[str]:
    graph = dependencies(template)
    done: list[str] = []
    remaining = dict(graph)
    while remaining:
        ready = sorted(k for k, deps in remaining.items() if deps <= set(done))
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        done += ready
        for k in ready:
            del remaining[k]
    return done


def descendants(template: dict[str, Any], logical_id: str) -> set[str]:
    graph = dependencies(template)
    found: set[str] = set()
    todo = [logical_id]
    while todo:
        current = todo.pop()
        for k, deps in graph.items():
            if current in deps and k not in found:
                found.add(k)
                todo.append(k)
    return found


def _delete(
    template: dict[str, Any], existing: list[str], *, status: str, on_create_rollback: bool
) -> tuple[list[Leftover], list[str], str | None]:
    """Delete `existing` in reverse creation order. Returns (leftovers, manual steps, failed resource)."""
    resources = template["Resources"]
    order = [k for k in reversed(creation_order(template)) if k in existing]
    released: set[str] = set()
    gone: set[str] = set()
    leftovers: list[Leftover] = []
    for position, logical_id in enumerate(order):
        resource = resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == RELEASE_TYPE and status == "ROLLBACK_IN_PROGRESS":
            released |= references(props.get("ClusterIdentifier"))
        if kind == "AWS::RDS::DBCluster":
            protected = props.get("DeletionProtection") is True and logical_id not in released
            instances = [
                k for k in order
                if resources[k]["Type"] == "AWS::RDS::DBInstance" and k not in gone
                and logical_id in references(resources[k].get("Properties", {}).get("DBClusterIdentifier"))
            ]  # fmt: skip
            if protected or instances:
                why = "deletion protection is on" if protected else f"it still has instances {instances}"
                left = [
                    Leftover(k, resources[k]["Type"], fixed_name(resources[k]), f"not deleted: {status} stopped")
                    for k in order[position:]
                ]
                step = f"{logical_id} ({fixed_name(resource)}) cannot be deleted: {why}; fix it by hand, then retry"
                return leftovers + left, [step], logical_id
        policy = resource.get("DeletionPolicy", "Delete")
        if policy == "Retain" or (policy == "RetainExceptOnCreate" and not on_create_rollback):
            leftovers.append(Leftover(logical_id, kind, fixed_name(resource), f"DeletionPolicy {policy}"))
            continue
        if policy == "Snapshot" and kind in SNAPSHOT_TYPES:
            leftovers.append(Leftover(logical_id, "snapshot", None, f"final snapshot of {logical_id}"))
        gone.add(logical_id)
    return leftovers, [], None


def create(account: Account, template: dict[str, Any], *, termination_protection: bool,
           fail_at: str | None = None) -> Account:  # fmt: skip
    """`cdk deploy` of a new stack; `fail_at` makes that resource's create fail (worst case for what exists)."""
    if account.status == "ROLLBACK_COMPLETE":  # the CDK CLI deletes a failed first create first
        account = Account(leftovers=account.leftovers)
    if account.status not in ("NONE", "DELETE_COMPLETE"):
        return _blocked(account, f"stack is {account.status}")
    taken = {(item.type, item.name) for item in account.leftovers if item.name}
    clashes = [
        f"{k}: {r['Type']} {fixed_name(r)} already exists (left by an earlier stack)"
        for k, r in template["Resources"].items()
        if fixed_name(r) and (r["Type"], fixed_name(r)) in taken
    ]
    if fail_at is None and not clashes:
        return Account(template, termination_protection, "CREATE_COMPLETE", list(account.leftovers))
    if clashes and fail_at is None:
        fail_at = clashes[0].split(":")[0]
    failed = template["Resources"][fail_at]
    not_started = descendants(template, fail_at) | {fail_at}  # what waits on the failed resource
    existing = [k for k in template["Resources"] if k not in not_started]
    if failed["Type"].startswith("Custom::"):
        existing.append(fail_at)  # a custom resource whose create failed still receives Delete
    leftovers, steps, stuck = _delete(template, existing, status="ROLLBACK_IN_PROGRESS", on_create_rollback=True)
    status = "ROLLBACK_FAILED" if stuck else "ROLLBACK_COMPLETE"
    return Account(template if stuck else None, termination_protection, status,
                   account.leftovers + leftovers, steps + [c for c in clashes])  # fmt: skip


def delete(account: Account) -> Account:
    """`cdk destroy`."""
    if account.template is None:
        return account
    if account.termination_protection:
        return Account(account.template, True, account.status, account.leftovers,
                       ["termination protection refused the delete (nothing was touched)"])  # fmt: skip
    leftovers, steps, stuck = _delete(
        account.template, list(account.template["Resources"]), status="DELETE_IN_PROGRESS", on_create_rollback=False
    )
    if stuck:
        return Account(account.template, False, "DELETE_FAILED", account.leftovers + leftovers, steps)
    return Account(None, False, "DELETE_COMPLETE", account.leftovers + leftovers)


def update(account: Account, template: dict[str, Any], *, termination_protection: bool) -> Account:
    """`cdk deploy` of a changed template onto an existing stack."""
    old = account.template
    assert old is not None, "update needs a deployed stack"
    for logical_id, resource in template["Resources"].items():
        before = old["Resources"].get(logical_id)
        if before is None or before["Type"] != resource["Type"]:
            continue
        changed = [
            p for p in CREATE_ONLY.get(resource["Type"], ())
            if before.get("Properties", {}).get(p) != resource.get("Properties", {}).get(p)
        ]  # fmt: skip
        if changed and fixed_name(before):
            step = (f"{logical_id} needs replacement ({', '.join(changed)} changed) but has the custom name "
                    f"{fixed_name(before)}: CloudFormation refuses; the update rolled back")  # fmt: skip
            return Account(old, account.termination_protection, "UPDATE_ROLLBACK_COMPLETE", account.leftovers, [step])
    removed = [k for k in old["Resources"] if k not in template["Resources"]]
    leftovers, steps, _ = _delete(old, removed, status="UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                                      on_create_rollback=False)  # fmt: skip
    # A failed cleanup does not fail the update; the resource stays behind and needs a person.
    return Account(template, termination_protection, "UPDATE_COMPLETE", account.leftovers + leftovers, steps)


def _blocked(account: Account, why: str) -> Account:
    return Account(account.template, account.termination_protection, account.status, account.leftovers, [why])
