"""Synthesize each profile's app once per test session, exactly as `cdk synth` does (cdk-nag included)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.database_stack import DatabaseStack, build_database_stack

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("dev", "prod")


def cdk_context(**overrides) -> dict:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, **overrides}


def synth_stack(profile: str, outdir: str | None = None, **overrides) -> DatabaseStack:
    app = cdk.App(context=cdk_context(profile=profile, **overrides), outdir=outdir)
    return build_database_stack(app)


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cdk.out")


@pytest.fixture(scope="session")
def stacks(assembly_dir) -> dict[str, DatabaseStack]:
    """Each profile's stack after a full app.synth(): validation plugins (cdk-nag) have passed."""
    built = {}
    for profile in PROFILES:
        stack = synth_stack(profile, outdir=str(assembly_dir / profile))
        stack.node.root.synth()  # raises on any unacknowledged cdk-nag finding
        built[profile] = stack
    return built


@pytest.fixture(scope="session")
def template_files(stacks, assembly_dir) -> dict[str, Path]:
    return {profile: assembly_dir / profile / f"{stack.stack_name}.template.json" for profile, stack in stacks.items()}


@pytest.fixture(scope="session")
def template_json(template_files) -> dict[str, dict]:
    return {profile: json.loads(path.read_text()) for profile, path in template_files.items()}


@pytest.fixture(scope="session")
def templates(template_json) -> dict[str, Template]:
    return {profile: Template.from_json(data) for profile, data in template_json.items()}


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param
