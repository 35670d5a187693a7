"""`alex-db reset` drops exactly what the migrations created, or nothing at all."""

from __future__ import annotations

import pytest

from alex_db.authoring.manifest_builder import build_manifest
from alex_db.deploy.runner import initialize
from alex_db.devtools.reset import reset_database
from alex_db.errors import ResetRefused
from tests.conftest import SEED_DIR
from tests.integration.test_schema_init import copy_migrations

MORE_KINDS = """
CREATE SCHEMA reporting;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- squawk-acknowledge ban-create-domain-with-constraint: reset must cover every object kind, a domain
-- with a CHECK included; no table of the app uses it
CREATE DOMAIN percentage AS numeric(5, 2) CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE reporting.snapshots (id int PRIMARY KEY, share percentage);
CREATE FUNCTION reporting.label(v int) RETURNS text LANGUAGE sql AS $$ SELECT 'n' || v $$;
CREATE FUNCTION reporting.label(v text) RETURNS text LANGUAGE sql AS $$ SELECT 's' || v $$;
CREATE PROCEDURE reporting.refresh() LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TYPE reporting.span AS RANGE (subtype = int);
"""


def manifest_with(tmp_path, sql: str) -> dict:
    return build_manifest(copy_migrations(tmp_path, {"0003_more.sql": sql}), SEED_DIR)


def objects(client) -> dict:
    return {
        "schemas": {r["n"] for r in client.query("SELECT nspname AS n FROM pg_namespace WHERE nspname = 'reporting'")},
        "instruments": client.query_one("SELECT count(*) AS n FROM instruments")["n"],
        "users": client.query_one("SELECT count(*) AS n FROM users")["n"],
    }


def test_schemas_extensions_domains_procedures_and_overloads_reset_cleanly(client, tmp_path):
    manifest = manifest_with(tmp_path, MORE_KINDS)
    initialize(client, manifest, progress=lambda _: None)
    client.execute("INSERT INTO users (clerk_user_id) VALUES ('u1')")
    reset_database(client, manifest, progress=lambda _: None)
    reset_database(client, manifest, progress=lambda _: None)  # and again: every kind was dropped and recreated
    assert objects(client) == {"schemas": {"reporting"}, "instruments": 22, "users": 0}
    assert client.query_one("SELECT reporting.label(2) AS a, reporting.label('x') AS b") == {"a": "n2", "b": "sx"}


def test_dry_run_lists_and_changes_nothing(client, manifest):
    initialize(client, manifest, progress=lambda _: None)
    client.execute("INSERT INTO users (clerk_user_id) VALUES ('u1')")
    lines: list[str] = []
    assert reset_database(client, manifest, dry_run=True, progress=lines.append) is None
    assert "  would drop table public.users" in lines and "  would drop table public.schema_migrations" in lines
    assert lines[-1].startswith("dry run: ")
    assert client.query_one("SELECT count(*) AS n FROM users")["n"] == 1


def test_a_kind_reset_cannot_recreate_is_refused_before_dropping(client, tmp_path):
    manifest = manifest_with(tmp_path, "CREATE AGGREGATE total(int) (sfunc = int4pl, stype = int);\n")
    initialize(client, manifest, progress=lambda _: None)
    client.execute("INSERT INTO users (clerk_user_id) VALUES ('u1')")
    with pytest.raises(ResetRefused, match=r"0003_more.sql:1: CREATE AGGREGATE total"):
        reset_database(client, manifest, progress=lambda _: None)
    assert client.query_one("SELECT count(*) AS n FROM users")["n"] == 1


def test_objects_the_migrations_did_not_create_are_never_dropped(client, manifest):
    initialize(client, manifest, progress=lambda _: None)
    client.execute("CREATE VIEW big_positions AS SELECT * FROM positions WHERE quantity > 100")  # made by hand
    client.execute("INSERT INTO users (clerk_user_id) VALUES ('u1')")
    with pytest.raises(ResetRefused, match=r"did not create, so it dropped nothing: view public.big_positions"):
        reset_database(client, manifest, progress=lambda _: None)
    assert client.query_one("SELECT count(*) AS n FROM users")["n"] == 1
    assert client.query_one("SELECT count(*) AS n FROM big_positions")["n"] == 0
