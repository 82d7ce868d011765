"""Bring your own data: read a team's CSV, TSV, Parquet or PDF file, validate every record
against the raw tables' rules, and load it exactly once (see `loader.import_file`)."""
