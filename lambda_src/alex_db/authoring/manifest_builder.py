"""Build the init manifest at synth (and for `make local`): validated migrations, seed rows and hashes."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from alex_db.authoring.migration_files import discover
from alex_db.authoring.migration_lint import lint
from alex_db.deploy.manifest import MANIFEST_FORMAT
from alex_db.errors import SeedError

INSTRUMENTS_FILE = "instruments.json"
SNAPSHOT_FILE = "schema_snapshot.json"


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_seed_file(path: str | Path) -> list[dict[str, Any]]:
    """Raw rows of a seed JSON file (a list of objects); validate_instruments checks them."""
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"), parse_float=Decimal)  # a BOM is tolerated
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of instruments, got {type(data).__name__}")
    return data


def validate_instruments(path: Path) -> list[dict[str, Any]]:
    """Seed instruments as validated by InstrumentCreate, JSON-ready; all problems in one error."""
    from pydantic import ValidationError

    from alex_db.schemas import InstrumentCreate

    try:
        rows = read_seed_file(path)
    except (ValueError, OSError) as exc:
        raise SeedError(f"{path.name}: {exc}") from None
    valid, problems, seen = [], [], {}
    for index, row in enumerate(rows, start=1):
        symbol = row.get("symbol", f"<row {index}>") if isinstance(row, dict) else f"<row {index}>"
        try:
            instrument = InstrumentCreate.model_validate(row)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "(row)"
                problems.append(f"{path.name}: {symbol} (row {index}): {field}: {error['msg']}")
            continue
        if instrument.symbol in seen:
            problems.append(f"{path.name}: {symbol} (row {index}): duplicate of row {seen[instrument.symbol]}")
        seen[instrument.symbol] = index
        valid.append(instrument.model_dump(mode="json"))
    if problems:
        raise SeedError("invalid seed data:\n  " + "\n  ".join(problems))
    return valid


def snapshot_hash(migrations_dir: str | Path) -> str | None:
    """sha256 of the committed schema snapshot (None before the first `make schema`)."""
    path = Path(migrations_dir) / SNAPSHOT_FILE
    return digest(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None


def build_manifest(migrations_dir: str | Path, seed_dir: str | Path) -> dict[str, Any]:
    """Everything the init function needs, validated; raises MigrationFileError or SeedError."""
    found = discover(migrations_dir)
    lint(migrations_dir, found)  # squawk: unsafe patterns for a big table in use, named file:line and rule
    migrations = [m.to_dict() for m in found]
    instruments = validate_instruments(Path(seed_dir) / INSTRUMENTS_FILE)
    manifest = {
        "format": MANIFEST_FORMAT,
        "migrations": migrations,
        "seed": {"instruments": instruments},
        "migrations_hash": digest([(m["version"], m["checksum"]) for m in migrations]),
        "seed_hash": digest(instruments),
        # The catalog the migrations produce (`make schema`); `alex-db verify` compares against it.
        "schema_hash": snapshot_hash(migrations_dir),
    }
    manifest["manifest_hash"] = digest([MANIFEST_FORMAT, manifest["migrations_hash"], manifest["seed_hash"]])
    return manifest
