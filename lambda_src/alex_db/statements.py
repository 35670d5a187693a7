"""SQL shared by the repositories (agents) and the deploy-time seed: the instrument upsert (stdlib only)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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
