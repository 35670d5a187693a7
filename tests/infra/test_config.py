"""Profile settings: defaults per profile and synth failures that name the bad key."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError, load_profile
from tests.infra.conftest import cdk_context


def test_default_profile_is_dev():
    context = cdk_context()
    context.pop("profile")
    assert load_profile(context).name == "dev"


def test_prod_profile_values():
    prod = load_profile(cdk_context(profile="prod"))
    assert (prod.min_capacity, prod.deletion_protection, prod.removal_policy) == (2, True, "snapshot")


def test_unknown_profile_names_the_key_and_choices():
    with pytest.raises(
        ConfigError, match=r"unknown profile 'staging' \(context key 'profile'\); known profiles: dev, prod"
    ):
        load_profile(cdk_context(profile="staging"))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_capacity", 0.7, r"alex:profiles\.dev\.max_capacity'"),
        ("min_capacity", -1, r"alex:profiles\.dev\.min_capacity'"),
        ("auto_pause_seconds", 10, r"alex:profiles\.dev\.auto_pause_seconds'"),
        ("log_retention_days", 8, r"log_retention_days=8 is not a CloudWatch Logs retention period"),
        ("removal_policy", "keep", r"alex:profiles\.dev\.removal_policy'"),
        ("database_name", "Alex-DB", r"alex:profiles\.dev\.database_name'"),
        ("surprise", 1, r"alex:profiles\.dev\.surprise': Extra inputs are not permitted"),
    ],
)
def test_invalid_value_names_the_key(key, value, message):
    context = cdk_context(profile="dev")
    context["alex:profiles"] = {
        **context["alex:profiles"],
        "dev": {**context["alex:profiles"]["dev"], key: value},
    }
    with pytest.raises(ConfigError, match=message):
        load_profile(context)


def test_scale_to_zero_needs_auto_pause():
    context = cdk_context(profile="dev")
    dev = {**context["alex:profiles"]["dev"], "auto_pause_seconds": None}
    context["alex:profiles"] = {**context["alex:profiles"], "dev": dev}
    with pytest.raises(ConfigError, match=r"min_capacity=0 .* needs auto_pause_seconds"):
        load_profile(context)


def test_vpc_id_from_context_is_validated():
    with pytest.raises(ConfigError, match=r"alex:profiles\.dev\.vpc_id'"):
        load_profile(cdk_context(profile="dev", vpc_id="not-a-vpc"))
    assert load_profile(cdk_context(profile="dev", vpc_id="vpc-0123456789abcdef0")).vpc_id == "vpc-0123456789abcdef0"
