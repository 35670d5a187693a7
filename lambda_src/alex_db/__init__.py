"""alex_db: the Alex agents' database package (Data API client, schemas, repositories).

Layers, dependencies pointing one way (runtime <- deploy <- authoring / devtools):
  runtime    alex_db.*            client, connection, codec, errors, schemas, repositories, Database
  deploy     alex_db.deploy       plan, apply, seed, manifest reader, runner (the init Lambda)
  authoring  alex_db.authoring    migration files (pglast), manifest builder, schema snapshot
  devtools   alex_db.devtools     LocalDataApi, embedded PostgreSQL, the `alex-db` CLI

Names are imported lazily so that `import alex_db.client` needs only the standard library and
boto3 (the Lambda runtime), while Database (pydantic) loads on use. The local engine is a developer
tool: `from alex_db.devtools.local_engine import LocalDataApi, local_client`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DataApiClient": "alex_db.client",
    "Result": "alex_db.client",
    "Transaction": "alex_db.client",
    "DataApiError": "alex_db.errors",
    "DatabaseNotReadyError": "alex_db.errors",
    "ConfigurationError": "alex_db.errors",
    "AlexDbError": "alex_db.errors",
    "Database": "alex_db.database",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'alex_db' has no attribute {name!r}")
