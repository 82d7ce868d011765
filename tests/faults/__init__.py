"""Fault tests: outages, stalls and hostile clients, on private PostgreSQL/Redis servers."""
