"""QueryService: the one read path every tool shares (cache key, cursor, role, page size)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_server.errors import InputValidationError
from mcp_server.query.executor import Column, Page
from mcp_server.query.pagination import decode_cursor
from mcp_server.query.service import QueryService
from mcp_server.security.rbac import query_role_for

FINGERPRINT = "f" * 40


class FakeVersion:
    def __init__(self, value: str = "build-1") -> None:
        self.value = value

    async def current(self) -> str:
        return self.value


class FakeCache:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def key(self, version: str, *parts: object) -> str:
        return ":".join([version, *(str(p) for p in parts)])

    async def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self.entries[key] = value


class FakeExecutor:
    """Serves rows 0..total-1 in pages, recording what it was asked."""

    max_rows = 50

    def __init__(self, total: int = 120) -> None:
        self.total = total
        self.calls: list[dict[str, Any]] = []

    async def fetch_page(
        self, sql: str, args: Any, *, timeout_s: float, offset: int, limit: int, role: str | None = None
    ) -> Page:
        self.calls.append(
            {"sql": sql, "timeout_s": timeout_s, "offset": offset, "limit": limit, "role": role}
        )
        end = min(offset + limit, self.total)
        more = end < self.total
        return Page(
            columns=[Column(name="n", type="int4")],
            rows=[{"n": i} for i in range(offset, end)],
            has_more=more,
            truncated_by_bytes=False,
            next_offset=end if more else None,
        )


def _service(
    executor: FakeExecutor | None = None, cache: FakeCache | None = None, version: str = "build-1"
) -> tuple[QueryService, FakeExecutor, FakeCache]:
    executor, cache = executor or FakeExecutor(), cache or FakeCache()
    service = QueryService(executor=executor, cache=cache, version=FakeVersion(version))  # type: ignore[arg-type]
    return service, executor, cache


async def _run(service: QueryService, **overrides: Any) -> Any:
    call: dict[str, Any] = {
        "sql": "SELECT n",
        "args": (),
        "fingerprint": FINGERPRINT,
        "timeout_s": 30,
        "page_size": 10,
        "cursor": None,
    }
    return await service.run(**{**call, **overrides})


async def test_a_repeated_page_comes_from_the_cache() -> None:
    service, executor, cache = _service()
    first = await _run(service)
    second = await _run(service)
    assert (first.cached, second.cached) == (False, True)
    assert len(executor.calls) == 1
    assert list(cache.entries) == [f"build-1:default:{FINGERPRINT}:0:10"]
    assert second.rows == first.rows and second.data_version == "build-1"


async def test_the_role_is_part_of_the_key_and_reaches_the_executor() -> None:
    service, executor, cache = _service()
    await _run(service)
    admin = await _run(service, role="telcopulse_query_admin")
    assert not admin.cached
    assert [c["role"] for c in executor.calls] == [None, "telcopulse_query_admin"]
    assert f"build-1:telcopulse_query_admin:{FINGERPRINT}:0:10" in cache.entries


async def test_pages_follow_the_cursor_and_are_capped_by_the_executor() -> None:
    service, executor, _ = _service()
    first = await _run(service, page_size=10_000)
    assert first.row_count == FakeExecutor.max_rows and first.truncated
    assert decode_cursor(first.next_cursor, query=FINGERPRINT[:24], version="build-1") == 50
    second = await _run(service, page_size=10_000, cursor=first.next_cursor)
    assert second.rows[0] == {"n": 50}
    third = await _run(service, page_size=10_000, cursor=second.next_cursor)
    assert third.row_count == 20 and not third.truncated and third.next_cursor is None
    assert [c["offset"] for c in executor.calls] == [0, 50, 100]
    assert {c["limit"] for c in executor.calls} == {50}


async def test_a_cursor_from_an_older_data_version_is_refused() -> None:
    cache = FakeCache()
    old, _, _ = _service(cache=cache, version="build-1")
    cursor = (await _run(old)).next_cursor
    new, executor, _ = _service(cache=cache, version="build-2")
    with pytest.raises(InputValidationError, match="refreshed"):
        await _run(new, cursor=cursor)
    assert executor.calls == []


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", "telcopulse_query_admin"), ("analyst", None), ("viewer", None)]
)
def test_only_admins_query_as_the_admin_role(role: str, expected: str | None) -> None:
    assert query_role_for(role, admin_role="telcopulse_query_admin") == expected
