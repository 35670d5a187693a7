"""alex_db: the Alex agents' database package (Data API client, local engine, schemas, repositories)."""
