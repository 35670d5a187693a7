"""initialize(client, manifest): migrations, then seeds; the one code path for AWS and local."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from alex_db.client import DataApiClient
from alex_db.manifest import migrations_of
from alex_db.migrations import apply, plan, read_applied
from alex_db.seed import upsert_instruments


@dataclass
class InitSummary:
    schema_version: int
    migrations_applied: list[str] = field(default_factory=list)
    instruments: int | None = None  # rows in `instruments` after seeding
    seeded: int = 0  # seed rows upserted this run
    skipped_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def initialize(
    client: DataApiClient,
    manifest: dict[str, Any],
    *,
    progress: Callable[[str], None] = print,
) -> InitSummary:
    """Bring the database up to the manifest: pending migrations, then the seed upserts."""
    migrations = migrations_of(manifest)
    applied = read_applied(client)
    current = plan(applied, migrations)
    if current.database_ahead:
        # The database has migrations this manifest does not know (e.g. CloudFormation rolling back
        # to an older template): forward-only means we leave it exactly as it is.
        reason = (
            f"database has migration(s) {', '.join(f'{v:04d}' for v in current.unknown_applied)} that this "
            f"manifest does not contain (the deployed code is older than the database); nothing was changed"
        )
        progress(f"schema init skipped: {reason}")
        return InitSummary(schema_version=max(a.version for a in applied), skipped_reason=reason)
    if current.pending:
        progress(f"applying {len(current.pending)} migration(s):")
    results = apply(client, current.pending, progress=progress)
    seeded = upsert_instruments(client, manifest["seed"]["instruments"])
    row = client.query_one("SELECT count(*) AS instruments FROM instruments")
    summary = InitSummary(
        schema_version=max([m.version for m in migrations] + [a.version for a in applied], default=0),
        migrations_applied=[f"{r.version:04d}_{r.name}" for r in results if not r.skipped],
        instruments=row["instruments"] if row else 0,
        seeded=seeded,
    )
    progress(
        f"schema version {summary.schema_version}; {len(summary.migrations_applied)} migration(s) applied; "
        f"{summary.seeded} seed instruments upserted; {summary.instruments} instruments in the database"
    )
    return summary
