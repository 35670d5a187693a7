"""The Data API's documented limits: one place for the client, the local engine and the migration checks.

Sources: the RDS Data API reference (ExecuteStatement/BatchExecuteStatement) and the Aurora user
guide, "Data API limitations". LocalDataApi enforces each one; the client plans its calls by them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

MAX_SQL_CHARS = 65_536  # ExecuteStatement/BatchExecuteStatement `sql`
MAX_ROW_BYTES = 64 * 1024  # each row of a result set
MAX_RESPONSE_BYTES = 1024 * 1024  # the whole result set of one call
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the HTTP request, headers and JSON included
STATEMENT_TIMEOUT_SECONDS = 45  # a statement is cancelled after this unless continueAfterTimeout
TRANSACTION_IDLE_SECONDS = 180  # a transaction unused for 3 minutes is rolled back
TIMESTAMP_FRACTION_DIGITS = 3  # TIMESTAMP/TIME typeHint: HH:MM:SS[.FFF]
# The 4 MiB include the HTTP headers. botocore's SigV4 headers (with an STS session token) take a
# few KB: the client refuses a JSON body over MAX_REQUEST_BYTES - 16 KiB, so it never sends what AWS
# could refuse; the local engine, which models AWS, assumes 2 KiB of headers.
CLIENT_HEADER_MARGIN_BYTES = 16 * 1024
ENGINE_HEADER_BYTES = 2 * 1024


def request_body_bytes(request: dict[str, Any]) -> int:
    """The bytes of the JSON body botocore sends for `request` (rest-json: json.dumps with its default
    ASCII escaping; blobs as base64 strings)."""
    return len(json.dumps(request, default=_blob_as_base64).encode())


def _blob_as_base64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not a Data API value")
