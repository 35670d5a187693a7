"""The Data API's documented limits: one place for the client, the local engine and the migration checks.

Sources: the RDS Data API reference (ExecuteStatement/BatchExecuteStatement) and the Aurora user
guide, "Data API limitations". LocalDataApi enforces each one; the client plans its calls by them.
"""

from __future__ import annotations

MAX_SQL_CHARS = 65_536  # ExecuteStatement/BatchExecuteStatement `sql`
MAX_ROW_BYTES = 64 * 1024  # each row of a result set
MAX_RESPONSE_BYTES = 1024 * 1024  # the whole result set of one call
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # the HTTP request, headers and JSON included
STATEMENT_TIMEOUT_SECONDS = 45  # a statement is cancelled after this unless continueAfterTimeout
TRANSACTION_IDLE_SECONDS = 180  # a transaction unused for 3 minutes is rolled back
TIMESTAMP_FRACTION_DIGITS = 3  # TIMESTAMP/TIME typeHint: HH:MM:SS[.FFF]
