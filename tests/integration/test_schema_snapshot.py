"""The committed schema snapshot matches what the migrations build; docs/design.md's ERD is drawn from it."""

from __future__ import annotations

import copy
import re

from alex_db.authoring.erd import mermaid
from alex_db.authoring.schema_snapshot import capture, read_snapshot, render
from alex_db.devtools.verify import compare
from tests.conftest import MIGRATIONS_DIR, ROOT


def test_committed_snapshot_is_what_the_migrations_build(db_client):
    # db_client's database went through the real init path (migrations + seed).
    live = render(capture(db_client))
    assert live == render(read_snapshot(MIGRATIONS_DIR)), (
        "migrations/schema_snapshot.json is stale: run `make schema` and commit the result"
    )


def test_manifest_carries_the_snapshot_hash(manifest):
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["schema_hash"])


def test_compare_finds_nothing_between_equal_catalogs():
    snapshot = read_snapshot(MIGRATIONS_DIR)
    assert compare(snapshot, copy.deepcopy(snapshot)) == []


def test_compare_names_each_kind_of_drift():
    expected = read_snapshot(MIGRATIONS_DIR)
    actual = copy.deepcopy(expected)
    del actual["tables"]["jobs"]["constraints"]["jobs_status_known"]
    actual["tables"]["users"]["constraints"]["users_extra"] = "CHECK (true)"
    del actual["tables"]["positions"]["columns"]["as_of_date"]
    actual["functions"]["update_updated_at_column()"] = "CREATE FUNCTION other()"
    del actual["tables"]["instruments"]
    messages = {(d.severity, d.message) for d in compare(expected, actual)}
    assert ("error", "jobs: CHECK jobs_status_known missing") in messages
    assert ("error", "users: extra CHECK users_extra: CHECK (true)") in messages
    assert ("error", "positions: column as_of_date missing") in messages
    assert ("error", "missing table instruments") in messages
    assert any(s == "error" and m.startswith("function update_updated_at_column() is ") for s, m in messages)


def test_erd_marks_keys_and_relationships():
    diagram = mermaid(read_snapshot(MIGRATIONS_DIR))
    assert diagram.startswith("erDiagram\n")
    assert "        varchar clerk_user_id PK" in diagram
    assert "        uuid account_id FK" in diagram
    # accounts.clerk_user_id is nullable: an account may have no user (|o); a user many accounts (o{).
    assert '    users |o--o{ accounts : "clerk_user_id"' in diagram
    assert "schema_migrations" not in diagram


def test_readme_erd_is_the_generated_one():
    page = (ROOT / "docs" / "design.md").read_text()
    match = re.search(r"<!-- erd:start -->\n```mermaid\n(.*?)```\n<!-- erd:end -->", page, flags=re.S)
    assert match, "docs/design.md lacks the <!-- erd:start --> ... <!-- erd:end --> block"
    assert match.group(1) == mermaid(read_snapshot(MIGRATIONS_DIR)), "the design page's ERD is stale: `make schema`"
