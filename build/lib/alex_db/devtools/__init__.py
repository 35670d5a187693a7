"""Developer tools (the `[local]` extra): LocalDataApi on a real PostgreSQL, the embedded server, the CLI."""
