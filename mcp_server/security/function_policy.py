"""Which functions an agent's SQL may call: an allow list read from the catalog at start-up.

The guard (`sql_guard`) finds every function a query calls by name; this module decides
whether each one may run. The rule, documented in docs/security.md:

* **Built in, not bolted on.** A function is a candidate when it lives in `pg_catalog` and
  no extension owns it, or when it lives in a schema the operator names in
  `TELCOPULSE_QUERY_FUNCTION_SCHEMAS` (PostGIS's, say). A function an extension installs
  later is unknown until someone decides otherwise, so the list has no blind spot by
  default.
* **Computes a value, changes nothing.** Candidates are kept when they are plain
  functions, aggregates or window functions that return a data type. Left out by the
  catalog itself: functions returning `void` (they exist for a side effect: sleeping,
  notifying, locking), functions returning internal pseudo-types (type I/O and index
  support), and functions marked parallel-unsafe (they write or hold session state:
  sequences, large objects, snapshots, replication, settings).
* **Denied categories, by name.** What the catalog does not mark is denied by name
  pattern, each pattern with the category the agent is told: server files, large
  objects, settings, server control, statistics reset, advisory locks, sequences, sleep,
  notifications, functions that run SQL text, transaction ids, server information,
  binary-upgrade internals. The patterns apply to operator-named schemas too.

Server information follows one rule: functions that describe *the server* (its version,
addresses, ports, start time, settings, processes, WAL position) are refused; functions
that describe *the caller's own session and query* (current_user, current_database,
current_schema, pg_typeof, format_type, has_*_privilege) are allowed.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

FUNCTION_SCHEMAS_SETTING = "TELCOPULSE_QUERY_FUNCTION_SCHEMAS"

# Function names (lower-case, schema stripped) an agent may not call, as fnmatch patterns,
# each with the category named in the rejection. Matching is deliberately broad: a false
# rejection costs the agent a rewrite, a false acceptance costs the server.
DENIED_FUNCTIONS: tuple[tuple[str, str], ...] = (
    # Server file system (pg_read_file & co. bypass table privileges for privileged roles).
    ("pg_read_file", "file access"),
    ("pg_read_binary_file", "file access"),
    ("pg_ls_*", "file access"),  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir...
    ("pg_stat_file", "file access"),
    ("pg_file_*", "file access"),  # adminpack: pg_file_write, pg_file_rename, pg_file_unlink...
    ("pg_logdir_ls", "file access"),
    ("pg_current_logfile", "file access"),
    ("pg_tablespace_location", "file access"),
    # Large objects: lo_import/lo_export read and write server files, the rest write data.
    ("lo_*", "large objects"),
    ("loread", "large objects"),
    ("lowrite", "large objects"),
    # Connections to other servers, where none of our layers apply.
    ("dblink*", "remote access"),
    # Settings: set_config can switch role or turn off transaction_read_only; reading
    # settings discloses paths and configuration.
    ("set_config", "settings"),
    ("current_setting", "settings"),
    ("pg_show_all_settings", "settings"),
    ("pg_show_all_file_settings", "settings"),
    ("pg_settings_get_flags", "settings"),
    ("pg_hba_file_rules", "settings"),
    ("pg_ident_file_mappings", "settings"),
    ("pg_config", "settings"),
    # Backend and server control.
    ("pg_terminate_backend", "server control"),
    ("pg_cancel_backend", "server control"),
    ("pg_reload_conf", "server control"),
    ("pg_rotate_logfile*", "server control"),
    ("pg_promote", "server control"),
    ("pg_switch_wal", "server control"),
    ("pg_switch_xlog", "server control"),
    ("pg_create_restore_point", "server control"),
    ("pg_backup_*", "server control"),
    ("pg_start_backup", "server control"),
    ("pg_stop_backup", "server control"),
    ("pg_logical_*", "server control"),
    ("pg_replication_*", "server control"),
    ("pg_drop_replication_slot", "server control"),
    ("pg_create_*_replication_slot", "server control"),
    ("pg_copy_*_replication_slot", "server control"),
    ("pg_sync_replication_slots", "server control"),
    ("pg_import_system_collations", "server control"),
    ("pg_wal_replay_*", "server control"),
    ("pg_xlog_replay_*", "server control"),
    ("pg_log_*", "server control"),  # pg_log_backend_memory_contexts, pg_log_standby_snapshot
    ("brin_*summarize*", "server control"),
    ("gin_clean_pending_list", "server control"),
    ("pg_stat_reset*", "statistics reset"),
    ("pg_stat_statements_reset", "statistics reset"),
    # Advisory locks outlive the statement and can block other sessions.
    ("pg_advisory_*", "advisory locks"),
    ("pg_try_advisory_*", "advisory locks"),
    # Sequences: nextval/setval write even in a read-only transaction.
    ("nextval", "sequences"),
    ("setval", "sequences"),
    ("currval", "sequences"),
    ("lastval", "sequences"),
    ("pg_sequence_last_value", "sequences"),
    # Sleeping holds a pooled connection for nothing.
    ("pg_sleep*", "sleep"),
    # Notifications reach other sessions.
    ("pg_notify", "notifications"),
    # Functions that run a SQL string (or a cursor) the guard has not checked.
    ("query_to_xml*", "executes SQL text"),
    ("query_to_xmlschema", "executes SQL text"),
    ("cursor_to_xml*", "executes SQL text"),
    ("table_to_xml*", "executes SQL text"),
    ("schema_to_xml*", "executes SQL text"),
    ("database_to_xml*", "executes SQL text"),
    ("ts_stat", "executes SQL text"),
    ("ts_rewrite", "executes SQL text"),
    ("hypopg*", "executes SQL text"),  # hypothetical indexes from a CREATE INDEX string
    # Transaction ids and snapshots: assigning an xid is a write.
    ("txid_*", "transaction ids"),
    ("pg_current_xact_id*", "transaction ids"),
    ("pg_export_snapshot", "transaction ids"),
    ("pg_current_snapshot", "transaction ids"),
    # The server itself: version, addresses, times, processes, WAL and recovery state.
    ("version", "server information"),
    ("inet_server_*", "server information"),
    ("inet_client_*", "server information"),
    ("pg_postmaster_start_time", "server information"),
    ("pg_conf_load_time", "server information"),
    ("pg_backend_pid", "server information"),
    ("pg_blocking_pids", "server information"),
    ("pg_safe_snapshot_blocking_pids", "server information"),
    ("pg_stat_get_*", "server information"),  # other sessions' activity and counters
    ("pg_current_wal_*", "server information"),
    ("pg_last_wal_*", "server information"),
    ("pg_last_xact_replay_timestamp", "server information"),
    ("pg_is_in_recovery", "server information"),
    ("pg_is_wal_replay_paused", "server information"),
    ("pg_get_wal_replay_pause_state", "server information"),
    ("pg_control_*", "server information"),
    ("pg_get_shmem_allocations", "server information"),
    ("pg_get_backend_memory_contexts", "server information"),
    ("pg_listening_channels", "server information"),
    ("pg_notification_queue_usage", "server information"),
    ("pg_jit_available", "server information"),
    ("pg_walfile_name*", "server information"),
    ("pg_get_replication_slots", "server information"),
    ("pg_get_wal_*", "server information"),
    # Internal functions of pg_upgrade.
    ("binary_upgrade_*", "binary upgrade internals"),
)

# Written like calls but part of SQL's grammar, not the catalog (reserved words, so no
# function can take their place): always allowed.
SQL_SYNTAX_FUNCTIONS = frozenset(
    {"coalesce", "nullif", "greatest", "least", "grouping", "row", "some", "all"}
)

# Parallel-unsafe but only describing the caller's own session (the rule above).
_SESSION_INFORMATION = frozenset({"current_schema", "current_schemas"})

# Return types that mark a function as no value to an analyst: a side effect or internals.
_NO_VALUE_TYPES = (
    "void",
    "trigger",
    "event_trigger",
    "internal",
    "cstring",
    "language_handler",
    "fdw_handler",
    "index_am_handler",
    "table_am_handler",
    "tsm_handler",
)

# One row per function overload a query might call: pg_catalog's own (not an extension's)
# and every function outside the system schemas (filtered by the operator's schemas later,
# so the text needs no parameter and any driver can run it).
CATALOG_SQL = """
SELECT n.nspname::text AS schema, p.proname::text AS name, p.prokind::text AS kind,
       p.proparallel::text AS parallel, rt.typname::text AS returns, rt.typcategory::text AS category
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype
WHERE CASE n.nspname
    WHEN 'pg_catalog' THEN NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
    ELSE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
END
"""

# Shown to people (docs, the refusal of an unlisted function): categories by return type.
_CATEGORY_BY_TYPE_CATEGORY = {
    "N": "math",
    "S": "string",
    "D": "date/time",
    "T": "date/time",
    "A": "array",
    "G": "geometric",
    "B": "boolean",
    "I": "network",
    "R": "range",
    "V": "bit string",
}
_JSON_TYPES = frozenset({"json", "jsonb", "jsonpath"})


def denied_category(name: str) -> str | None:
    """The denied category `name` falls in (lower-cased first), or None."""
    lowered = name.lower()
    for pattern, category in DENIED_FUNCTIONS:
        if fnmatch.fnmatchcase(lowered, pattern):
            return category
    return None


@dataclass(frozen=True)
class FunctionCall:
    """A function a query calls by name: `schema` as written (None when unqualified).

    Names are as PostgreSQL resolves them: unquoted names lower-cased, quoted ones exact.
    """

    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True, eq=False)
class FunctionPolicy:
    """The allow list: function names by schema, and the schemas calls may name."""

    allowed: Mapping[str, frozenset[str]]  # schema -> callable names
    categories: Mapping[str, str]  # name -> category, for people
    excluded: Mapping[str, str]  # name -> why the catalog rule leaves it out, for the refusal

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(self.allowed)

    def refusal(self, calls: Iterable[FunctionCall]) -> str | None:
        """Why the first call not on the list may not run (written for the agent), or None."""
        for call in calls:
            reason = self._refusal(call)
            if reason is not None:
                return reason
        return None

    @cached_property
    def _unqualified(self) -> frozenset[str]:
        """Names callable without a schema: every allowed schema's, and SQL's own."""
        return frozenset().union(SQL_SYNTAX_FUNCTIONS, *self.allowed.values())

    def _refusal(self, call: FunctionCall) -> str | None:
        # The allowed sets hold no denied name, so the common case is one set lookup.
        if call.schema is None:
            if call.name in self._unqualified:
                return None
        elif call.name in self.allowed.get(call.schema, ()):
            return None
        category = denied_category(call.name)
        if category is not None:
            return f"Function {call.name} is not allowed ({category})."
        if call.schema is not None and call.schema not in self.allowed:
            return (
                f"Function calls qualified with schema {call.schema!r} are not allowed; call "
                "built-in functions without a schema (or with pg_catalog). An operator can allow "
                f"a schema's functions with {FUNCTION_SCHEMAS_SETTING}."
            )
        why = self.excluded.get(call.name)
        if why is not None:
            return f"Function {call} is not allowed ({why})."
        return (
            f"Function {call} is not on the allow list (PostgreSQL's built-in functions, less the "
            "denied categories). Check the spelling; for an extension's function, an operator adds "
            f"its schema to {FUNCTION_SCHEMAS_SETTING}."
        )

    def summary(self) -> dict[str, int]:
        """Allowed function names per category (docs/security.md prints one)."""
        return dict(sorted(Counter(self.categories.values()).items()))

    @classmethod
    def from_catalog(cls, rows: Iterable[Mapping[str, Any]], schemas: Iterable[str] = ()) -> FunctionPolicy:
        """Apply the rule to CATALOG_SQL's rows (asyncpg records or dict rows); `schemas` are
        the operator's, allowed to be named in a call even while they hold no function."""
        allowed: dict[str, set[str]] = {"pg_catalog": set(), **{schema: set() for schema in schemas}}
        categories: dict[str, str] = {}
        excluded: dict[str, str] = {}
        for row in rows:
            schema, name = row["schema"], row["name"]
            if schema not in allowed or denied_category(name) is not None:
                continue
            why = _why_excluded(row)
            if why is not None:
                excluded.setdefault(name, why)
                continue
            allowed[schema].add(name)
            categories.setdefault(name, _category(row))
        return cls(
            allowed={schema: frozenset(names) for schema, names in allowed.items()},
            categories=categories,
            excluded=excluded,
        )


def _why_excluded(row: Mapping[str, Any]) -> str | None:
    """Why the catalog rule leaves a function out, or None when it computes a value."""
    if row["kind"] not in ("f", "a", "w"):
        return "a procedure"
    if row["returns"] == "void":
        return "it returns nothing and exists for a side effect"
    if row["returns"] in _NO_VALUE_TYPES:
        return "a PostgreSQL internal, not callable from a query"
    # Also in an operator's schemas: extensions mark what writes (pg_trgm's set_limit sets a
    # setting); a team's own SQL functions say PARALLEL SAFE when they only compute.
    if row["parallel"] == "u" and row["name"] not in _SESSION_INFORMATION:
        return (
            "it is marked parallel-unsafe: it writes or holds session state; a function that only "
            "computes is declared PARALLEL SAFE"
        )
    return None


def _category(row: Mapping[str, Any]) -> str:
    if row["kind"] == "a":
        return "aggregate"
    if row["kind"] == "w":
        return "window"
    if row["returns"] in _JSON_TYPES:
        return "JSON"
    return _CATEGORY_BY_TYPE_CATEGORY.get(row["category"], "other")


async def load_function_policy(conn: Any, schemas: Iterable[str] = ()) -> FunctionPolicy:
    """Read the allow list through an asyncpg connection (the server does this at start-up)."""
    return FunctionPolicy.from_catalog(await conn.fetch(CATALOG_SQL), schemas)
