"""The operational store: definitions, runs, audit — SQLite (WAL) by default, PostgreSQL in production."""
