"""Idempotent seed upserts: all instruments in one BatchExecuteStatement (stdlib + client only)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alex_db.statements import INSTRUMENT_UPSERT_SQL, instrument_parameters


def upsert_instruments(client: Any, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert instruments with one BatchExecuteStatement (chunked only past 4 MiB); returns rows sent."""
    parameter_sets = [instrument_parameters(row) for row in rows]
    return client.batch(INSTRUMENT_UPSERT_SQL, parameter_sets) if parameter_sets else 0
