"""Migrations cannot half-apply at run time either: a transaction that ends early is caught, nothing recorded."""

from __future__ import annotations

import pytest

from alex_db.deploy.apply import apply, read_applied
from alex_db.deploy.plan import Migration
from alex_db.errors import DataApiError, InterruptedMigration, TransactionEscaped
from schema_init.handler import on_event, retry_policy
from tests.conftest import make_client
from tests.integration.test_schema_init import cfn_event


def hand_made(version: int, *statements: str) -> Migration:
    """A migration that bypassed the synth checks (e.g. a hand-edited manifest)."""
    return Migration(
        version, "escape", f"{version:04d}_escape.sql", "0" * 64, statements, tuple(range(1, 1 + len(statements)))
    )


def table_exists(client, name: str) -> bool:
    return client.query_one("SELECT to_regclass(:n) IS NOT NULL AS present", {"n": name})["present"]


def test_rollback_inside_a_migration_records_nothing_and_keeps_nothing(client):
    read_applied(client)
    with pytest.raises(TransactionEscaped, match=r"0001_escape.sql: a statement ended the migration's own transaction"):
        apply(client, [hand_made(1, "CREATE TABLE a (id int)", "ROLLBACK", "CREATE TABLE b (id int)")], progress=print)
    assert read_applied(client) == []  # no history row: the next run tries again instead of claiming success
    assert not table_exists(client, "a") and not table_exists(client, "b")


def test_commit_inside_a_migration_is_a_hard_error_and_never_counts_as_applied(client):
    read_applied(client)
    with pytest.raises(TransactionEscaped):
        apply(client, [hand_made(1, "CREATE TABLE a (id int)", "COMMIT", "CREATE TABLE b (id int)")], progress=print)
    assert table_exists(client, "a") and not table_exists(client, "b")  # PostgreSQL committed the first half
    with pytest.raises(InterruptedMigration, match=r"marks 0001_escape as interrupted"):
        read_applied(client)  # every later run stops here until someone repairs it


def test_init_function_waits_out_a_just_created_cluster(api, database, sleeper, manifest):
    client = make_client(api, database, sleeper, retry=retry_policy())
    api.inject_fault("HttpEndpointNotEnabledException", times=2, message="HttpEndpoint is not enabled for cluster")
    api.inject_fault("SecretsErrorException", times=1, message="Timed out retrieving the secret")
    api.inject_fault("DatabaseNotFoundException", times=1, message="Database alex does not exist")
    api.inject_fault("InvalidResourceStateException", times=1, message="The resource is in an invalid state")
    response = on_event(cfn_event("Create", manifest, database=database), None, client=client, manifest=manifest)
    assert response["Data"]["InstrumentCount"] == "22"
    assert len(sleeper.delays) == 5


def test_agents_fail_fast_on_the_same_codes(client, api):
    api.inject_fault("HttpEndpointNotEnabledException", times=1)
    with pytest.raises(DataApiError) as caught:
        client.query("SELECT 1 AS one")
    assert caught.value.code == "HttpEndpointNotEnabledException"
