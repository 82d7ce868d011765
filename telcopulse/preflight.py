"""Check the services a command needs before it starts work that would half-fail.

`telcopulse refresh` against a stopped PostgreSQL used to print a long Dagster stack
trace and leave a failed run in the UI; a two-second check first turns that into one
line that says which service, where, and what to do.
"""

from __future__ import annotations

from telcopulse.errors import Unavailable
from warehouse.db import redacted_url
from warehouse.settings import Settings

HINT = (
    "start it (or `make up` for the embedded services), or point the command at a running "
    "server with DATABASE_URL / REDIS_URL"
)


def check_postgres(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise Unavailable(f"PostgreSQL at {redacted_url(url)} is not answering ({reason}); {HINT}") from None


def check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        raise Unavailable(f"Redis at {redacted_url(url)} is not answering ({error}); {HINT}") from None
    finally:
        client.close()


def check_services(settings: Settings) -> None:
    """PostgreSQL is required; Redis is checked when configured (the analysis cache uses
    it, and runs without it when REDIS_URL is unset)."""
    check_postgres(settings.require_database_url())
    if settings.redis_url:
        check_redis(settings.redis_url)
