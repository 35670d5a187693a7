"""Read the manifest that synth wrote into the init asset: migrations (split, checksummed) and seed rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alex_db.deploy.plan import Migration

MANIFEST_FORMAT = 1
MANIFEST_FILE = "manifest.json"


def load_manifest(path: str | Path) -> dict[str, Any]:
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT}")
    return manifest


def migrations_of(manifest: dict[str, Any]) -> list[Migration]:
    return [Migration.from_dict(m) for m in manifest["migrations"]]


def migration_labels(manifest: dict[str, Any]) -> list[str]:
    return [f"{m['version']:04d}_{m['name']}" for m in manifest["migrations"]]
