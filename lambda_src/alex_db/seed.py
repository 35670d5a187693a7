"""Idempotent seed upserts: all instruments in one BatchExecuteStatement (stdlib + client only)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

INSTRUMENT_COLUMNS = (
    "symbol", "name", "instrument_type", "current_price",
    "allocation_regions", "allocation_sectors", "allocation_asset_class",
)  # fmt: skip

# The WHERE clause leaves unchanged rows untouched (no write, no updated_at bump) on re-runs.
INSTRUMENT_UPSERT_SQL = f"""
INSERT INTO instruments ({", ".join(INSTRUMENT_COLUMNS)})
VALUES ({", ".join(":" + c for c in INSTRUMENT_COLUMNS)})
ON CONFLICT (symbol) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in INSTRUMENT_COLUMNS[1:])}
WHERE ({", ".join(f"instruments.{c}" for c in INSTRUMENT_COLUMNS[1:])})
    IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in INSTRUMENT_COLUMNS[1:])})
""".strip()


def instrument_parameters(row: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters for one instrument row; prices travel as strings in JSON to stay exact."""
    params = {column: row.get(column) for column in INSTRUMENT_COLUMNS}
    if params["current_price"] is not None:
        params["current_price"] = Decimal(str(params["current_price"]))
    return params


def upsert_instruments(client: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert instruments with one BatchExecuteStatement (chunked only past 4 MiB); returns rows sent."""
    parameter_sets = [instrument_parameters(row) for row in rows]
    return client.batch(INSTRUMENT_UPSERT_SQL, parameter_sets) if parameter_sets else 0


def read_seed_file(path: str | Path) -> list[dict[str, Any]]:
    """Raw rows of a seed JSON file (a list of objects); alex_db.manifest validates them."""
    data = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of instruments, got {type(data).__name__}")
    return data
