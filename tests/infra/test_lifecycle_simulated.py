"""The CloudFormation lifecycle walked over both profiles' templates (tests/infra/lifecycle_model.py).

For every scenario: what is left in the account, whether the next `cdk deploy` succeeds, and
whether a person must step in. These are the questions an operator asks before the first deploy.
"""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import cdk_context
from tests.infra.lifecycle_model import Account, create, creation_order, delete, update

PROTECTED = {"dev": False, "prod": True}


def deployed(template: dict, profile: str) -> Account:
    account = create(Account(), template, termination_protection=PROTECTED[profile])
    assert account.status == "CREATE_COMPLETE", account.manual_steps
    return account


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_a_first_create_failing_at_any_resource_rolls_back_with_no_manual_step(template_json, profile):
    template = template_json[profile]
    for failing in creation_order(template):
        account = create(Account(), template, termination_protection=PROTECTED[profile], fail_at=failing)
        assert account.status == "ROLLBACK_COMPLETE", (failing, account.manual_steps)
        assert account.manual_steps == [], failing
        assert [item for item in account.leftovers if item.name] == [], failing  # no fixed name survives
        retry = create(account, template, termination_protection=PROTECTED[profile])
        assert retry.status == "CREATE_COMPLETE", (failing, retry.manual_steps)


def test_dev_destroy_leaves_nothing_billable_and_redeploys(template_json):
    account = delete(deployed(template_json["dev"], "dev"))
    assert account.status == "DELETE_COMPLETE" and account.billable == [] and account.manual_steps == []
    assert create(account, template_json["dev"], termination_protection=False).status == "CREATE_COMPLETE"


def test_prod_destroy_is_refused_and_touches_nothing(template_json):
    before = deployed(template_json["prod"], "prod")
    after = delete(before)
    assert after.template is before.template and after.leftovers == [] and after.status == "CREATE_COMPLETE"
    assert "termination protection" in after.manual_steps[0]


def test_prod_decommission_destroy_and_redeploy(template_json, variants):
    prod = template_json["prod"]
    account = deployed(prod, "prod")
    account = update(account, variants.synth("prod", decommission="true")["template"], termination_protection=False)
    assert account.status == "UPDATE_COMPLETE" and account.manual_steps == []
    account = delete(account)
    assert account.status == "DELETE_COMPLETE" and account.manual_steps == []
    kept = {(item.type, item.why) for item in account.leftovers}
    assert ("snapshot", "final snapshot of ClusterEB0386A7") in kept  # the data survives the decommission
    assert [item for item in account.leftovers if item.name] == []  # nothing that blocks a redeploy
    again = create(account, prod, termination_protection=True)
    assert again.status == "CREATE_COMPLETE", again.manual_steps


def test_a_cluster_replacement_is_refused_and_says_why(template_json):
    prod = template_json["prod"]
    account = deployed(prod, "prod")
    renamed = json.loads(json.dumps(prod))
    cluster = next(r for r in renamed["Resources"].values() if r["Type"] == "AWS::RDS::DBCluster")
    cluster["Properties"]["DatabaseName"] = "alex2"
    after = update(account, renamed, termination_protection=True)
    assert after.status == "UPDATE_ROLLBACK_COMPLETE" and after.template is prod
    assert "DatabaseName changed" in after.manual_steps[0] and "alex-prod" in after.manual_steps[0]


def test_lowering_the_reader_count_deletes_the_reader_and_leaves_nothing(template_json, variants):
    profiles = cdk_context()["alex:profiles"]
    fewer = {**profiles, "prod": {**profiles["prod"], "reader_count": 0}}
    account = update(
        deployed(template_json["prod"], "prod"),
        variants.synth("prod", **{"alex:profiles": fewer})["template"],
        termination_protection=True,
    )
    assert account.status == "UPDATE_COMPLETE" and account.leftovers == [] and account.manual_steps == []
