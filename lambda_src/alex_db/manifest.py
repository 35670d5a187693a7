"""The init manifest: validated migrations (split statements, checksums) and seed rows, with hashes.

`build_manifest` runs at synth and for the local database (pglast + Pydantic); the Lambda only
`load_manifest`s the JSON the synth wrote into its asset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from alex_db.migrations import Migration, discover
from alex_db.seed import read_seed_file

MANIFEST_FORMAT = 1
MANIFEST_FILE = "manifest.json"
INSTRUMENTS_FILE = "instruments.json"


class SeedError(ValueError):
    """A seed row that the schemas reject; the message names file, symbol and field."""


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


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


def build_manifest(migrations_dir: str | Path, seed_dir: str | Path) -> dict[str, Any]:
    """Everything the init function needs, validated; raises MigrationFileError or SeedError."""
    migrations = [m.to_dict() for m in discover(migrations_dir)]
    instruments = validate_instruments(Path(seed_dir) / INSTRUMENTS_FILE)
    manifest = {
        "format": MANIFEST_FORMAT,
        "migrations": migrations,
        "seed": {"instruments": instruments},
        "migrations_hash": _digest([(m["version"], m["checksum"]) for m in migrations]),
        "seed_hash": _digest(instruments),
    }
    manifest["manifest_hash"] = _digest([MANIFEST_FORMAT, manifest["migrations_hash"], manifest["seed_hash"]])
    return manifest


def load_manifest(path: str | Path) -> dict[str, Any]:
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
    return manifest


def migrations_of(manifest: dict[str, Any]) -> list[Migration]:
    return [Migration.from_dict(m) for m in manifest["migrations"]]
