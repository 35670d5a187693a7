"""`alex-db status`: each migration's state (the deploy layer's migration_states), row counts, schema drift."""

from __future__ import annotations

from typing import Any

from alex_db.deploy.apply import HISTORY_EXISTS, READ_HISTORY
from alex_db.deploy.manifest import migrations_of
from alex_db.deploy.outside_transaction import ACTIVE, RUNNING, describe, tag
from alex_db.deploy.plan import migration_states

PROJECT_TABLES = ("users", "instruments", "accounts", "positions", "jobs", "schema_migrations")
# What `status` prints for each state's checksum column.
CHECKSUM_LABELS = {"applied": "ok", "edited": "MISMATCH", "unknown": "unknown file"}


def status_report(client: Any, manifest: dict[str, Any], snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """Migrations with their state, pending labels, row counts and (given a snapshot) drift lines."""
    files = {m.version: m for m in migrations_of(manifest)}
    # Not deploy.apply.read_applied: status must not create the history table on a fresh database.
    exists = client.query_one(HISTORY_EXISTS)
    rows = client.query(READ_HISTORY) if exists and exists["present"] else []
    # A no-transaction migration under way (or cut off) is not applied yet: shown with its progress.
    running = {r["version"]: r for r in rows if r["duration_ms"] == RUNNING}
    history = {r["version"]: r for r in rows if r["version"] not in running}
    states = migration_states({v: r["checksum"] for v, r in history.items()}, files)
    migrations = []
    for version, state in states.items():
        record, file = history.get(version), files.get(version)
        entry: dict[str, Any] = {"version": version, "name": file.name if file else record["name"]}
        entry["status"] = "pending" if state == "pending" else "applied"
        if version in running and file is not None:
            active = client.query_one(ACTIVE, {"tag": tag(file)})
            entry["status"] = "running"
            entry["progress"] = (
                describe(file, active)
                if active
                else f"{version:04d} {file.name}: claimed at "
                f"{running[version]['applied_at'].isoformat()[:19]} but not running now; the next migrate or deploy "
                "resumes it (and rebuilds an INVALID index)"
            )
        if record is not None:
            entry["applied_at"] = record["applied_at"].isoformat()
            entry["duration_ms"] = record["duration_ms"]
            entry["checksum"] = CHECKSUM_LABELS[state]
        migrations.append(entry)
    present = {r["t"] for r in client.query("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")}
    counts = {t: client.query_one(f'SELECT count(*) AS n FROM "{t}"')["n"] for t in PROJECT_TABLES if t in present}
    report = {
        "schema_version": max(history, default=0),
        "migrations": migrations,
        "pending": [f"{m['version']:04d}_{m['name']}" for m in migrations if m["status"] in ("pending", "running")],
        "tables": counts,
    }
    if snapshot is not None and not report["pending"]:
        from alex_db.devtools.verify import schema_drift

        report["drift"] = [d.message for d in schema_drift(client, snapshot) if d.severity == "error"]
    return report
