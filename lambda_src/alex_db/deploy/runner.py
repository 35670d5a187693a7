"""The runner: initialize(client, manifest) = pending migrations, then seeds; one code path for AWS and local."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alex_db.client import DataApiClient
from alex_db.deploy.app_role import ensure_app_role
from alex_db.deploy.apply import LockPolicy, apply, read_applied
from alex_db.deploy.manifest import migration_labels, migrations_of
from alex_db.deploy.plan import plan
from alex_db.deploy.seed import upsert_instruments
from alex_db.errors import ManifestMismatch


@dataclass
class InitSummary:
    schema_version: int
    migrations_applied: list[str] = field(default_factory=list)
    instruments: int | None = None  # rows in `instruments` after seeding
    seeded: int = 0  # seed rows upserted this run
    skipped_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def instrument_count(client: DataApiClient) -> int:
    row = client.query_one("SELECT count(*) AS instruments FROM instruments")
    return row["instruments"] if row else 0


@dataclass(frozen=True)
class AppRole:
    """The agents' group role and the app secret's current credentials (see alex_db.deploy.app_role)."""

    group: str
    credentials: dict[str, str] = field(repr=False)


def initialize(
    client: DataApiClient,
    manifest: dict[str, Any],
    *,
    app_role: AppRole | None = None,
    progress: Callable[[str], None] = print,
    locks: LockPolicy | None = None,
    deadline: float | None = None,
) -> InitSummary:
    """Bring the database up to the manifest: the app role, pending migrations, then the seed upserts.

    `deadline` (time.monotonic()): when to stop waiting for a no-transaction migration's statement
    (MigrationStillRunning; it goes on in the database and the next run resumes it).
    """
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
    if app_role is not None:
        # Before the migrations, so their tables get the role's default privileges and a migration
        # may narrow them (REVOKE … FROM the group role) even on a fresh database.
        ensure_app_role(client, app_role.group, app_role.credentials)
        progress(f"app role {app_role.group}: login {app_role.credentials['username']} current, DML-only grants")
    if current.pending:
        # The undo for a bad migration is point-in-time recovery to this moment (docs/operations.md: "Undo a
        # migration"); logged before the first statement so the time is in the log even if it fails.
        before = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        progress(f"restore point: the database as it was before this run is recoverable to {before} (UTC)")
        progress(f"applying {len(current.pending)} migration(s):")
    results = apply(client, current.pending, progress=progress, locks=locks, deadline=deadline)
    seeded = upsert_instruments(client, manifest["seed"]["instruments"])
    summary = InitSummary(
        schema_version=max([m.version for m in migrations] + [a.version for a in applied], default=0),
        migrations_applied=[f"{r.version:04d}_{r.name}" for r in results if not r.skipped],
        instruments=instrument_count(client),
        seeded=seeded,
    )
    progress(
        f"schema version {summary.schema_version}; {len(summary.migrations_applied)} migration(s) applied; "
        f"{summary.seeded} seed instruments upserted; {summary.instruments} instruments in the database"
    )
    return summary


def initialize_for_request(
    client: DataApiClient,
    manifest: dict[str, Any],
    *,
    requested_hash: str | None,
    requested_migrations: Sequence[str] = (),
    app_role: AppRole | None = None,
    progress: Callable[[str], None] = print,
    locks: LockPolicy | None = None,
    deadline: float | None = None,
) -> InitSummary:
    """initialize() for a CloudFormation request, which may name an older manifest than the bundled one.

    That happens on rollback: CloudFormation resends the previous properties while this function
    still carries the new code. Forward-only means that is a no-op as long as the database already
    has every migration the old manifest lists.
    """
    if requested_hash in (None, manifest["manifest_hash"]):
        return initialize(client, manifest, app_role=app_role, progress=progress, locks=locks, deadline=deadline)
    bundled = migration_labels(manifest)
    requested = list(requested_migrations)
    if requested == bundled[: len(requested)]:
        # Every migration the older template names is one this code applied before it (the database
        # cannot lack them: that template's own deploy applied them). No call at all, so a rollback
        # succeeds even when the database is what made the update fail (UPDATE_ROLLBACK_FAILED otherwise).
        reason = (
            f"requested manifest {requested_hash[:12]}… lists {len(requested)} migration(s), a prefix of the "
            f"{len(bundled)} this function bundles (rollback to an older template); nothing to do, database not called"
        )
        progress(f"schema init skipped: {reason}")
        version = int(requested[-1][:4]) if requested else 0
        return InitSummary(schema_version=version, skipped_reason=reason)
    applied = read_applied(client)
    labels = {f"{a.version:04d}_{a.name}" for a in applied}
    missing = [m for m in requested if m not in labels]
    if missing:
        raise ManifestMismatch(
            f"CloudFormation requested manifest {requested_hash[:12]}… but this function bundles "
            f"{manifest['manifest_hash'][:12]}… and the database lacks {', '.join(missing)}; deploy again"
        )
    reason = (
        f"requested manifest {requested_hash[:12]}… (migrations {', '.join(requested) or 'none'}) is "
        f"older than this function's; the database already has all of it (rollback), so nothing was changed"
    )
    progress(f"schema init skipped: {reason}")
    return InitSummary(
        schema_version=max((a.version for a in applied), default=0),
        instruments=instrument_count(client),
        skipped_reason=reason,
    )
