"""Synthesize each profile's stack once per test session (a synth costs seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.database_stack import DatabaseStack, build_database_stack

ROOT = Path(__file__).resolve().parents[2]


def cdk_context(**overrides) -> dict:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, **overrides}


def synth_stack(profile: str, **overrides) -> DatabaseStack:
    app = cdk.App(context=cdk_context(profile=profile, **overrides))
    return build_database_stack(app)


@pytest.fixture(scope="session")
def stacks() -> dict[str, DatabaseStack]:
    return {profile: synth_stack(profile) for profile in ("dev", "prod")}


@pytest.fixture(scope="session")
def templates(stacks) -> dict[str, Template]:
    return {profile: Template.from_stack(stack) for profile, stack in stacks.items()}


@pytest.fixture(scope="session")
def template_json(templates) -> dict[str, dict]:
    return {profile: template.to_json() for profile, template in templates.items()}


@pytest.fixture(params=["dev", "prod"])
def profile(request) -> str:
    return request.param
