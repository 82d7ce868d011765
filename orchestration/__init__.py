"""Dagster code location of telcopulse: raw load → quality gate → dbt models → analyses.

Layout follows dagster-open-platform: one folder per domain under `defs/` (raw, quality,
dbt, imports, analyses), each with what it defines (assets, checks, jobs, schedules,
sensors) and a small `definitions.py`; `definitions.py` at the top only merges them.
"""
