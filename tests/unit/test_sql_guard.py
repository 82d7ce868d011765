"""The SQL guard of `query_database`: the corpus, parameter binding, canonical rendering."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time

import pytest
import sqlglot
from sqlglot import exp

from mcp_server.security import sql_guard
from mcp_server.security.function_policy import FunctionPolicy, denied_category
from mcp_server.security.sql_guard import GuardedQuery, SqlRejected
from tests.sql_corpus import ATTACKS, BENIGN

ATTACK_SQL = dict(ATTACKS)
BENIGN_CASES = {case_id: (sql, params) for case_id, sql, params in BENIGN}


_POLICY: list[FunctionPolicy] = []


@pytest.fixture(autouse=True, scope="module")
def _catalog_policy(function_policy):
    _POLICY[:] = [function_policy]


def guard_sql(query: str, parameters: dict | None = None, **kwargs: object) -> GuardedQuery:
    """The guard with this PostgreSQL's allow list, as the server builds it."""
    kwargs.setdefault("policy", _POLICY[0])
    return sql_guard.guard_sql(query, parameters, **kwargs)


def reason_of(query: str, parameters: dict | None = None, **kwargs: object) -> str:
    with pytest.raises(SqlRejected) as info:
        guard_sql(query, parameters, **kwargs)
    return info.value.reason


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_and_ids_are_unique():
    assert len(ATTACKS) >= 45
    assert len(BENIGN) >= 25
    assert len({case_id for case_id, _ in ATTACKS}) == len(ATTACKS)
    assert len({case_id for case_id, _, _ in BENIGN}) == len(BENIGN)


@pytest.mark.parametrize("case_id", [case_id for case_id, _ in ATTACKS])
def test_attack_is_rejected_with_a_readable_reason(case_id):
    reason = reason_of(ATTACK_SQL[case_id])
    assert reason.endswith(".")
    assert "\n" not in reason
    assert len(reason) < 300
    for internal in ("Traceback", "sqlglot", "<class", "Error tokenizing", "\x1b["):
        assert internal not in reason


@pytest.mark.parametrize(
    ("case_id", "expected"),
    [
        ("delete", "Only SELECT queries are allowed; found DELETE."),
        ("update", "Only SELECT queries are allowed; found UPDATE."),
        ("truncate", "Only SELECT queries are allowed; found TRUNCATE."),
        ("explain_select", "Only SELECT queries are allowed; found EXPLAIN."),
        ("explain_analyze_delete", "Only SELECT queries are allowed; found EXPLAIN."),
        ("do_block_delete", "Only SELECT queries are allowed; found DO."),
        ("vacuum", "Only SELECT queries are allowed; found VACUUM."),
        ("set_role_postgres", "Only SELECT queries are allowed; found SET."),
        ("copy_to_program", "Only SELECT queries are allowed; found COPY."),
        ("values_only", "Only SELECT queries are allowed; found VALUES."),
        ("create_table_as", "Only SELECT queries are allowed; found CREATE TABLE."),
        ("pg_read_file_select_list", "Function pg_read_file is not allowed (file access)."),
        ("pg_read_file_in_from", "Function pg_read_file is not allowed (file access)."),
        ("pg_read_file_attribute_notation", "Function pg_read_file is not allowed (file access)."),
        ("pg_read_file_quoted_name", "Function pg_read_file is not allowed (file access)."),
        ("set_config_schema_qualified", "Function set_config is not allowed (settings)."),
        ("current_setting_data_directory", "Function current_setting is not allowed (settings)."),
        ("pg_sleep_in_order_by", "Function pg_sleep is not allowed (sleep)."),
        ("pg_sleep_in_cte", "Function pg_sleep is not allowed (sleep)."),
        ("lo_import", "Function lo_import is not allowed (large objects)."),
        ("dblink_exec", "Function dblink_exec is not allowed (remote access)."),
        ("query_to_xml_delete", "Function query_to_xml is not allowed (executes SQL text)."),
        ("pg_terminate_own_backend", "Function pg_terminate_backend is not allowed (server control)."),
        ("pg_advisory_lock", "Function pg_advisory_lock is not allowed (advisory locks)."),
        ("nextval", "Function nextval is not allowed (sequences)."),
        ("pg_notify", "Function pg_notify is not allowed (notifications)."),
        ("txid_current", "Function txid_current is not allowed (transaction ids)."),
        ("comment_line_hides_drop", f"{sql_guard._COMMENTS} Removing them is all that is needed."),
        ("comment_nested", f"{sql_guard._COMMENTS} Removing them is all that is needed."),
        ("comment_only", sql_guard._COMMENTS),
        ("empty", "The query is empty; send one SELECT statement."),
    ],
)
def test_attack_reason_names_the_problem(case_id, expected):
    assert reason_of(ATTACK_SQL[case_id]) == expected


@pytest.mark.parametrize("case_id", ["cte_delete", "cte_update", "cte_insert", "cte_nested_delete"])
def test_data_modifying_cte_is_named(case_id):
    reason = reason_of(ATTACK_SQL[case_id])
    assert reason.startswith("Only SELECT queries are allowed; found ")
    assert "inside the query" in reason
    assert any(word in reason for word in ("DELETE", "UPDATE", "INSERT"))


@pytest.mark.parametrize(
    "case_id", ["stacked_drop", "commit_then_delete", "double_semicolon", "dollar_quote_then_delete"]
)
def test_stacked_statements_reason(case_id):
    assert reason_of(ATTACK_SQL[case_id]).startswith("Send exactly one SQL statement")


@pytest.mark.parametrize("case_id", ["positional_dollar", "positional_percent_s", "positional_question_mark"])
def test_positional_parameters_reason(case_id):
    assert "use named parameters like :name or %(name)s" in reason_of(ATTACK_SQL[case_id])


@pytest.mark.parametrize("case_id", ["for_update", "for_share", "for_no_key_update", "for_update_in_cte"])
def test_locking_clause_reason(case_id):
    assert reason_of(ATTACK_SQL[case_id]).startswith("Row-locking clauses")


def test_select_into_reason():
    assert "remove the INTO clause" in reason_of(ATTACK_SQL["select_into"])


def test_parse_error_reason_has_position_and_no_internals():
    reason = reason_of("select from where")
    assert reason.startswith("Could not parse the SQL near line 1, column 17")
    assert "<class" not in reason
    reason = reason_of("select 1,\n  'unterminated")
    assert reason.startswith("Could not parse the SQL near line 2, column")
    assert "not closed" in reason


def test_unknown_schema_function_reason():
    assert "qualified with schema 'extensions'" in reason_of(ATTACK_SQL["unknown_schema_function"])


def test_too_long_and_max_length():
    long_query = ATTACK_SQL["too_long"]
    assert len(long_query) > 20_000
    assert reason_of(long_query) == (
        f"The query is {len(long_query):,} characters long, over the 20,000 limit; shorten it."
    )
    assert guard_sql("select 1", max_length=8).sql == "SELECT 1"
    assert "over the 7 limit" in reason_of("select 1", max_length=7)


def test_nul_character_in_query_is_rejected():
    assert reason_of(ATTACK_SQL["nul_byte_then_drop"]) == "The query contains a NUL character; remove it."
    assert "NUL" in reason_of("select 'a\x00b'")


def test_non_string_query_is_rejected():
    assert reason_of(b"select 1") == "The query must be a string of SQL."  # type: ignore[arg-type]


# --------------------------------------------------------------------------- benign


def _named_again(guarded: GuardedQuery) -> tuple[str, dict[str, object]]:
    """The canonical SQL with $n turned back into :p_n, to feed it through the guard again."""
    tree = sql_guard._parse_single(guarded.sql, sql_guard._tokenize(guarded.sql + " "))
    for node in list(tree.find_all(exp.Parameter)):
        node.replace(exp.Placeholder(this=f"p_{node.this.name}"))
    params = {f"p_{index}": value for index, value in enumerate(guarded.args, start=1)}
    return sql_guard._render(tree), params


@pytest.mark.parametrize("case_id", list(BENIGN_CASES))
def test_benign_query_passes_and_renders_faithfully(case_id):
    sql, params = BENIGN_CASES[case_id]
    guarded = guard_sql(sql, params)

    # Exactly the supplied parameters, each once, as $1..$n.
    assert sorted(map(repr, guarded.args)) == sorted(repr(params[name]) for name in params)
    tokens = sqlglot.tokenize(guarded.sql, read="postgres")
    numbers = {
        int(following.text)
        for token, following in itertools.pairwise(tokens)
        if token.token_type == sqlglot.TokenType.PARAMETER
    }
    assert numbers == set(range(1, len(params) + 1))
    assert not any(token.comments for token in tokens)
    assert not any(token.token_type == sqlglot.TokenType.SEMICOLON for token in tokens)

    # The canonical text re-parses to one query over the same tables, and is a fixed point.
    reparsed = sqlglot.parse(guarded.sql, read="postgres")
    assert len(reparsed) == 1
    assert isinstance(reparsed[0], exp.Select | exp.SetOperation | exp.Subquery)
    assert sql_guard._table_names(reparsed[0]) == guarded.tables
    again_sql, again_params = _named_again(guarded)
    again = guard_sql(again_sql, again_params)
    assert again.sql == guarded.sql
    assert again.args == guarded.args
    assert again.fingerprint == guarded.fingerprint


def test_benign_tables_are_recorded_as_written():
    sql, params = BENIGN_CASES["exists_and_in_subquery"]
    assert guard_sql(sql, params).tables == frozenset(
        {"marts.dim_customers", "marts.fct_network_quality_daily", "staging.stg_telco__network_events"}
    )
    sql, params = BENIGN_CASES["multiple_ctes"]
    assert guard_sql(sql, params).tables == frozenset({"marts.fct_arpu_monthly"})  # CTE names left out
    sql, params = BENIGN_CASES["mixed_case_keywords_and_quoted_identifiers"]
    assert guard_sql(sql, params).tables == frozenset({"marts.fct_arpu_monthly"})
    sql, params = BENIGN_CASES["generate_series_calendar"]
    assert guard_sql(sql, params).tables == frozenset({"marts.fct_arpu_monthly"})  # not the table function


def test_strings_that_look_like_sql_survive_intact():
    guarded = guard_sql(BENIGN_CASES["string_literals_with_sql_syntax"][0])
    for fragment in ("'a;b'", "'x -- not a comment'", "'/* not a comment */'", "'it''s'"):
        assert fragment in guarded.sql
    # Dollar-quoted strings come back as standard strings with the same value.
    assert "'dollar '' quoted; -- text'" in guarded.sql
    assert "'it''s $$ nested'" in guarded.sql


def test_trailing_semicolon_is_dropped_and_parentheses_kept():
    assert guard_sql("select 1;").sql == "SELECT 1"
    assert guard_sql("(select 1)").sql == "(SELECT 1)"


def test_order_by_nulls_rendering_keeps_non_default_placement():
    guarded = guard_sql("select a from t order by a desc nulls last, b nulls first, c asc nulls last")
    # PostgreSQL's defaults (ASC NULLS LAST, DESC NULLS FIRST) are omitted; the others are kept.
    assert guarded.sql == "SELECT a FROM t ORDER BY a DESC NULLS LAST, b NULLS FIRST, c ASC"


def test_quoted_function_name_keeps_its_case():
    policy = FunctionPolicy(
        allowed={"pg_catalog": frozenset({"lower"}), "public": frozenset({"MyFunc"})},
        categories={},
        excluded={},
    )
    guarded = guard_sql('select "MyFunc"(1), lower(x) from t', policy=policy)
    assert guarded.sql == 'SELECT "MyFunc"(1), lower(x) FROM t'
    assert "not on the allow list" in reason_of('select "myfunc"(1)', policy=policy)


@pytest.mark.parametrize(
    "query",
    [
        "select now(), current_date, current_user, current_database(), pg_typeof(1)",
        "select * from pg_catalog.pg_stat_activity",
        "select * from pg_catalog.pg_replication_slots",
        "select pg_catalog.lower('X')",
        "select c.location from marts.dim_customers c",
    ],
)
def test_harmless_catalog_and_builtin_use_passes(query):
    assert guard_sql(query).sql.startswith("SELECT ")


# --------------------------------------------------------------------------- parameters


def test_both_parameter_styles_become_positional_in_order_of_appearance():
    guarded = guard_sql(
        "select * from t where a = %(first)s and b = :second and c = :first and d = %(third)s",
        {"third": 3, "first": "one", "second": 2.5},
    )
    assert guarded.sql == "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $1 AND d = $3"
    assert guarded.args == ("one", 2.5, 3)


def test_placeholder_numbering_follows_rendered_text_not_tree_order():
    guarded = guard_sql(
        "with x as (select :a as v) select v from x where v = :b order by :c limit :d",
        {"a": 1, "b": 2, "c": 3, "d": 4},
    )
    assert guarded.sql == "WITH x AS (SELECT $1 AS v) SELECT v FROM x WHERE v = $2 ORDER BY $3 LIMIT $4"
    assert guarded.args == (1, 2, 3, 4)


def test_positional_parameter_renders_as_dollar_number():
    assert sql_guard._positional(7).sql(dialect="postgres") == "$7"


def test_list_parameter_for_any():
    guarded = guard_sql("select * from t where location = any(:locs)", {"locs": ("North", "South")})
    assert guarded.sql == "SELECT * FROM t WHERE location = ANY($1)"
    assert guarded.args == (["North", "South"],)


def test_list_value_is_copied():
    values = [1, 2]
    guarded = guard_sql("select * from t where a = any(:ids)", {"ids": values})
    values.append(3)
    assert guarded.args == ([1, 2],)


def test_values_never_appear_in_sql():
    hostile = "x'); drop table raw.customers; --"
    guarded = guard_sql("select * from t where name = :name", {"name": hostile})
    assert hostile not in guarded.sql
    assert "drop" not in guarded.sql.lower()
    assert guarded.args == (hostile,)


def test_missing_parameters_are_named():
    reason = reason_of("select * from t where a = :a and b = :b and c = :c", {"b": 1})
    assert reason == "No value was supplied for parameter(s) :a, :c; add them to the parameters."


def test_unused_parameters_are_named():
    reason = reason_of("select * from t where a = :a", {"a": 1, "typo_b": 2, "extra": 3})
    assert reason.startswith("Parameter(s) extra, typo_b were supplied but the query does not use them")


def test_parameters_for_query_without_placeholders_are_rejected():
    assert "the query does not use them" in reason_of("select 1", {"a": 1})


@pytest.mark.parametrize("name", ["1abc", "a-b", "", "a b", "x" * 64, "ä"])
def test_invalid_parameter_names_are_rejected(name):
    assert f"Parameter name {name!r} is invalid" in reason_of("select :ok", {"ok": 1, name: 2})


def test_longest_valid_parameter_name_is_accepted():
    name = "_" + "x" * 62
    assert guard_sql(f"select :{name}", {name: 1}).args == (1,)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1}, "has a value of type dict"),
        (b"bytes", "has a value of type bytes"),
        ([[1, 2]], "has a value of type list"),
        ({1, 2}, "has a value of type set"),
        (float("nan"), "only finite numbers are allowed"),
        (float("inf"), "only finite numbers are allowed"),
        ("a\x00b", "contains a NUL character"),
        (["ok", "a\x00b"], "contains a NUL character"),
        ([1, "a"], "mixes value types"),
        ([True, 1], "mixes value types"),
    ],
)
def test_invalid_parameter_values_are_rejected(value, expected):
    assert expected in reason_of("select :v", {"v": value})


@pytest.mark.parametrize(
    "value", [None, True, False, 0, -5, 2**40, 1.5, "", "text", [], [1, 2.5, None], ["a"]]
)
def test_json_scalars_and_lists_are_accepted(value):
    assert guard_sql("select :v", {"v": value}).args == (value,)


def test_parameters_must_be_a_mapping():
    assert reason_of("select :v", [("v", 1)]) == "Parameters must be an object mapping names to values."  # type: ignore[arg-type]


# --------------------------------------------------------------------------- fingerprint & API


def test_fingerprint_ignores_whitespace_case_and_parameter_style():
    one = guard_sql("select a, count(*) from marts.t where b = :x group by a", {"x": 1})
    two = guard_sql("SELECT  a,\n  COUNT( * )\nFROM marts.t\nWHERE b=%(x)s GROUP BY a;", {"x": 1})
    assert one.sql == two.sql
    assert one.fingerprint == two.fingerprint
    assert len(one.fingerprint) == 64
    assert int(one.fingerprint, 16) >= 0


def test_fingerprint_depends_on_parameter_values_and_types():
    query = "select * from t where b = :x"
    prints = {guard_sql(query, {"x": value}).fingerprint for value in (1, 2, "1", True, 1.0, None, [1])}
    assert len(prints) == 7


def test_fingerprint_depends_on_sql():
    assert guard_sql("select 1").fingerprint != guard_sql("select 2").fingerprint


def test_guarded_query_is_frozen_and_rejection_carries_reason():
    guarded = guard_sql("select 1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        guarded.sql = "DROP TABLE x"  # type: ignore[misc]
    error = SqlRejected("Because.")
    assert error.reason == "Because."
    assert str(error) == "Because."


# --------------------------------------------------------------------------- deny list


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("PG_READ_FILE", "file access"),
        ("pg_ls_logdir", "file access"),
        ("pg_file_write", "file access"),
        ("lo_unlink", "large objects"),
        ("lowrite", "large objects"),
        ("dblink_connect", "remote access"),
        ("pg_create_physical_replication_slot", "server control"),
        ("pg_backup_start", "server control"),
        ("pg_wal_replay_pause", "server control"),
        ("pg_stat_reset_shared", "statistics reset"),
        ("pg_try_advisory_lock_shared", "advisory locks"),
        ("pg_sleep_until", "sleep"),
        ("cursor_to_xmlschema", "executes SQL text"),
        ("database_to_xml_and_xmlschema", "executes SQL text"),
        ("binary_upgrade_set_next_pg_type_oid", "binary upgrade internals"),
    ],
)
def test_deny_list_categories(name, category):
    assert denied_category(name) == category


@pytest.mark.parametrize(
    "name", ["lower", "date_trunc", "pg_get_viewdef", "location", "percentile_cont", "current_database"]
)
def test_ordinary_functions_are_not_denied(name):
    assert denied_category(name) is None


# --------------------------------------------------------------------------- logging & caching


def test_command_fallback_warnings_are_silenced_without_lasting_filter(caplog):
    logger = logging.getLogger("sqlglot")
    filters_before = list(logger.filters)
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        sql_guard._analyze.cache_clear()
        reason_of("SET ROLE postgres")
        reason_of("CALL some_procedure()")
    assert [record for record in caplog.records if record.name.startswith("sqlglot")] == []
    assert logger.filters == filters_before
    # Outside guard_sql the fallback warning still reaches sqlglot's users.
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        sqlglot.parse("SET ROLE postgres", read="postgres")
    assert any("unsupported syntax" in record.getMessage() for record in caplog.records)


def test_text_analysis_is_cached_and_binding_is_not():
    query = "select count(*) from marts.dim_customers where location = :loc"
    sql_guard._analyze.cache_clear()
    first = guard_sql(query, {"loc": "North"})
    second = guard_sql(query, {"loc": "South"})
    info = sql_guard._analyze.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    assert first.sql == second.sql
    assert (first.args, second.args) == (("North",), ("South",))
    assert first.fingerprint != second.fingerprint
    assert info.maxsize == 1024


def test_rejections_are_cached_too():
    sql_guard._analyze.cache_clear()
    reason_of("select pg_sleep(1)")
    reason_of("select pg_sleep(1)")
    assert sql_guard._analyze.cache_info().hits == 1


def test_cached_guard_is_fast():
    sql, params = BENIGN_CASES["window_rank_and_running_sum"]
    guard_sql(sql, params)
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        guard_sql(sql, params)
    per_call = (time.perf_counter() - started) / rounds
    assert per_call < 0.001


# --------------------------------------------------------------------------- defence in depth


@pytest.fixture()
def fresh_cache():
    sql_guard._analyze.cache_clear()
    yield
    sql_guard._analyze.cache_clear()


def test_rendered_text_is_checked_again(monkeypatch, fresh_cache):
    """If sqlglot ever rendered something other than what was checked, the second pass refuses it."""
    render = sql_guard._render
    monkeypatch.setattr(sql_guard, "_render", lambda tree: render(tree) + "; DROP TABLE raw.customers")
    assert reason_of("select 1") == sql_guard._UNCHECKABLE

    monkeypatch.setattr(sql_guard, "_render", lambda tree: render(tree).replace("lower(", "pg_sleep("))
    sql_guard._analyze.cache_clear()
    assert reason_of("select lower('x')") == sql_guard._UNCHECKABLE

    monkeypatch.setattr(sql_guard, "_render", lambda tree: render(tree) + " -- trailing")
    sql_guard._analyze.cache_clear()
    assert "Comments are not allowed" in reason_of("select 2")


def test_token_backstop_checks_every_call_shaped_name():
    tokens = sqlglot.tokenize("SELECT a, PG_SLEEP (1) FROM t", read="postgres")
    with pytest.raises(sql_guard._Rejection) as info:
        sql_guard._check_call_tokens(tokens, sqlglot.parse_one("select 1"), [])
    assert info.value.reason == "Function pg_sleep is not allowed (sleep)."


def test_names_defined_with_column_lists_are_not_mistaken_for_calls():
    guarded = guard_sql("with lo_usage(x) as (select 1) select * from lo_usage")
    assert guarded.sql == "WITH lo_usage(x) AS (SELECT 1) SELECT * FROM lo_usage"
    assert guarded.tables == frozenset()
    assert "pg_sleep" in reason_of("with pg_sleep(x) as (select 1) select pg_sleep(1) from pg_sleep")


def test_named_parameter_before_a_trailing_empty_string_is_accepted():
    # Regression: the re-rendered `$1 <> ''` at the very end used to fail sqlglot's tokenizer.
    guarded = guard_sql("SELECT 1 AS x WHERE :p <> ''", {"p": "a"})
    assert guarded.sql.endswith("$1 <> ''") and guarded.args == ("a",)


# --------------------------------------------------------------------------- fidelity (issue 17)


@pytest.mark.parametrize(
    ("query", "runs"),
    [
        ("SELECT current_time", "SELECT CURRENT_TIME"),
        ("select localtimestamp(3), current_date", "SELECT LOCALTIMESTAMP(3), CURRENT_DATE"),
        ("SELECT now(), NOW()", "SELECT now(), now()"),
        ("SELECT date_part('year', now())", "SELECT date_part('year', now())"),
        ("SELECT 2 ^ 3", "SELECT (2 OPERATOR(^) 3)"),
        ("SELECT $$it's$$", "SELECT 'it''s'"),
        (
            "SELECT interval '1 week ago', time '10:00'::interval",
            "SELECT CAST('1 week ago' AS INTERVAL), CAST(CAST('10:00' AS TIME) AS INTERVAL)",
        ),
        ("SELECT 'a'\n'b'", "SELECT 'ab'"),
        (
            "SELECT string_agg(DISTINCT x, ', ' ORDER BY x) FROM t",
            "SELECT STRING_AGG(DISTINCT x, ', ' ORDER BY x) FROM t",
        ),
    ],
)
def test_what_runs_keeps_names_keywords_and_operators(query, runs):
    assert guard_sql(query).sql == runs


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT 0x1F", "Write the number 0x1F in decimal"),
        ("SELECT 1_000", "A number runs into a name"),
        ("SELECT |/ 16", "write sqrt(x) instead of |/ x"),
        ("SELECT !! to_tsquery('a')", "write tsquery_not(q) instead of !! q"),
        ("SELECT 'x' IS NFC NORMALIZED", "compare with normalize(x)"),
        ("SELECT interval '1 day 2 hours' day", "unit inside the quotes"),
        ("SELECT 1 OPERATOR(public.+) 2", "only PostgreSQL's own operators"),
        ("SELECT x::interval(2) FROM t", "drop the (n)"),
        ("SELECT @ -5", "write abs(x) instead of @ x"),
        ("SELECT a >>= b FROM t", "inet_supeq(a, b)"),
        ("SELECT a FROM t ORDER BY a USING >", "DESC for USING >"),
    ],
)
def test_what_cannot_be_passed_on_unchanged_is_refused_with_what_to_write(query, reason):
    assert reason in reason_of(query)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT hypopg_create_index('CREATE INDEX ON marts.dim_customers (age)')", "(executes SQL text)"),
        ("SELECT * FROM hypopg_create_index('CREATE INDEX ON t (a)')", "(executes SQL text)"),
        ("SELECT pg_sleep(1)", "(sleep)"),
        ("SELECT pg_catalog.pg_sleep_for('1 second')", "(sleep)"),
        ("SELECT version()", "(server information)"),
        ("SELECT inet_server_addr()", "(server information)"),
        ("SELECT pg_postmaster_start_time()", "(server information)"),
        ("SELECT current_setting('data_directory')", "(settings)"),
        ("SELECT st_makepoint(1, 2)", "TELCOPULSE_QUERY_FUNCTION_SCHEMAS"),
        ("SELECT postgis.st_makepoint(1, 2)", "TELCOPULSE_QUERY_FUNCTION_SCHEMAS"),
        ("SELECT setseed(0.5)", "returns nothing"),
    ],
)
def test_function_policy_refusals(query, reason):
    assert reason in reason_of(query)


def test_comment_refusal_says_whether_that_is_all():
    assert reason_of("SELECT 1 -- why").endswith("Removing them is all that is needed.")
    assert reason_of("SELECT /* hint */ pg_sleep(1)").endswith(
        "Without them the query is still refused: Function pg_sleep is not allowed (sleep)."
    )
