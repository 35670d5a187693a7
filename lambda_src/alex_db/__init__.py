"""alex_db: the Alex agents' database package (Data API client, local engine, schemas, repositories).

Names are imported lazily so that `import alex_db.client` needs only the standard library and
boto3 (the Lambda runtime), while LocalDataApi (psycopg) and Database (pydantic) load on use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DataApiClient": "alex_db.client",
    "DataApiError": "alex_db.client",
    "Result": "alex_db.client",
    "LocalDataApi": "alex_db.local",
    "Database": "alex_db.models",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'alex_db' has no attribute {name!r}")
