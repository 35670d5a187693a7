"""Reset drops exactly the objects the migrations create (found with pglast), newest first."""

from __future__ import annotations

from alex_db.authoring.migration_files import discover
from alex_db.deploy.plan import Migration
from alex_db.devtools.reset import drop_statements
from tests.conftest import MIGRATIONS_DIR


def test_drops_every_object_of_the_initial_schema():
    assert drop_statements(discover(MIGRATIONS_DIR)) == [
        'DROP FUNCTION IF EXISTS "update_updated_at_column"() CASCADE',
        'DROP TABLE IF EXISTS "jobs" CASCADE',
        'DROP TABLE IF EXISTS "positions" CASCADE',
        'DROP TABLE IF EXISTS "accounts" CASCADE',
        'DROP TABLE IF EXISTS "instruments" CASCADE',
        'DROP TABLE IF EXISTS "users" CASCADE',
        "DROP TABLE IF EXISTS schema_migrations",
    ]


def test_views_types_sequences_and_schemas_are_found():
    statements = (
        "CREATE VIEW app.v AS SELECT 1",
        "CREATE TYPE mood AS ENUM ('ok')",
        "CREATE SEQUENCE s",
        "CREATE MATERIALIZED VIEW mv AS SELECT 1",
        'CREATE TABLE "Odd""Name" (x int)',
    )
    migration = Migration(2, "more", "0002_more.sql", "0" * 64, statements, (1, 2, 3, 4, 5))
    assert drop_statements([migration])[:-1] == [
        'DROP TABLE IF EXISTS "Odd""Name" CASCADE',
        'DROP MATERIALIZED VIEW IF EXISTS "mv" CASCADE',
        'DROP SEQUENCE IF EXISTS "s" CASCADE',
        'DROP TYPE IF EXISTS "mood" CASCADE',
        'DROP VIEW IF EXISTS "app"."v" CASCADE',
    ]
