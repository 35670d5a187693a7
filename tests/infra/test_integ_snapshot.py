"""`make integ`'s app, checked offline: its synthesized templates equal the committed snapshot."""

from __future__ import annotations

import json

from integ.snapshot import committed_templates, synthesized_templates


def integ_templates(variants) -> dict:
    """The integ app's templates as `make integ-snapshot` synthesizes them (kept per set of inputs)."""
    return variants.get("integ app", synthesized_templates)


def test_integ_app_matches_its_committed_snapshot(variants):
    current, committed = integ_templates(variants), committed_templates()
    assert set(current) == set(committed), "run `make integ-snapshot` and commit integ/…snapshot/"
    for name, template in current.items():
        assert template == committed[name], f"{name} changed: run `make integ-snapshot` and review the diff"


def test_integ_app_asserts_version_instruments_and_a_round_trip(variants):
    templates = integ_templates(variants)
    assertions = next(t for name, t in templates.items() if "DeployAssert" in name)
    calls = {}
    for resource in assertions["Resources"].values():
        props = resource.get("Properties", {})
        if "service" in props and "api" in props:
            calls.setdefault((props["service"], props["api"]), []).append(json.loads(props["expected"]))
    assert [e["$ObjectLike"]["records"] for e in calls[("RDSData", "executeStatement")]] == [
        [[{"longValue": 2}]],  # the newest migration
        [[{"longValue": 22}]],  # the seed instruments
    ]
    (round_trip,) = calls[("Lambda", "invoke")]
    assert json.loads(round_trip["$ObjectLike"]["Payload"]) == {
        "ok": True, "app_group_member": True, "instruments": 22, "ddl_refused": True,
    }  # fmt: skip


def test_make_integ_without_deploy_explains_and_exits_0():
    import subprocess

    from tests.conftest import ROOT

    result = subprocess.run(["make", "-s", "integ"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "make integ DEPLOY=1 would" in result.stdout and "destroy both stacks" in result.stdout


def test_deploy_without_credentials_fails_in_one_line_naming_them(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    nowhere = str(tmp_path / "none")
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=nowhere, AWS_SHARED_CREDENTIALS_FILE=nowhere)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    result = subprocess.run([sys.executable, "-m", "integ.credentials"], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID" in lines[0]
