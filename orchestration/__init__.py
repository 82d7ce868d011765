"""Dagster code location of telcopulse: raw load → dbt models → (later) analyses.

Layout follows dagster-open-platform: one folder per domain under `defs/`, each with
its assets, checks, schedules and a small `definitions.py`; `definitions.py` at the top
only merges them.
"""
