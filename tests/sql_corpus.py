"""SQL the `query_database` guard must refuse (ATTACKS) and must accept (BENIGN).

Data only, shared by the guard's unit tests and by the integration test that sends the whole
corpus through the real server against a built warehouse and checks the database is
unchanged afterwards. ATTACKS therefore name real warehouse objects (raw.customers,
raw.revenue, ops.*): if one ever got through, the integration test would notice.

BENIGN queries use only the marts/staging columns the query role can read, and parameter
values that asyncpg can bind as JSON-ish scalars (dates are passed as text and cast).
"""

from __future__ import annotations

ATTACKS: list[tuple[str, str]] = [
    # --- more than one statement -------------------------------------------------------
    ("stacked_drop", "select 1; drop table raw.customers"),
    ("stacked_select_then_delete", "SELECT count(*) FROM marts.dim_customers; DELETE FROM raw.customers"),
    ("commit_then_delete", "COMMIT; DELETE FROM raw.customers"),
    ("rollback_then_update", "ROLLBACK; UPDATE raw.customers SET account_type = 'Enterprise'"),
    ("end_then_truncate", "END; TRUNCATE raw.revenue"),
    ("abort_then_delete", "ABORT; DELETE FROM raw.revenue"),
    ("double_semicolon", "select 1;;"),
    ("nul_byte_then_drop", "select 1\x00; drop table raw.customers"),
    ("dollar_quote_then_delete", "select $$x$$; delete from raw.revenue"),
    ("dollar_tag_then_drop", "select $tag$ harmless ; $tag$; drop table raw.revenue"),
    ("estring_backslash_then_drop", "select E'\\\\'; drop table raw.customers; --'"),
    ("standard_string_backslash_then_drop", "select 'a\\'; drop table raw.customers; --'"),
    # --- transaction / session control -----------------------------------------------
    ("set_transaction_read_write", "SET TRANSACTION READ WRITE"),
    ("begin_read_write", "BEGIN READ WRITE"),
    ("start_transaction_read_write", "START TRANSACTION READ WRITE"),
    ("set_role_postgres", "SET ROLE postgres"),
    ("set_local_role_postgres", "SET LOCAL ROLE postgres"),
    ("reset_role", "RESET ROLE"),
    ("set_session_authorization", "SET SESSION AUTHORIZATION postgres"),
    ("reset_session_authorization", "RESET SESSION AUTHORIZATION"),
    ("set_statement_timeout_zero", "SET statement_timeout = 0"),
    ("set_local_read_only_off", "SET LOCAL transaction_read_only = off"),
    ("savepoint", "SAVEPOINT s1"),
    ("discard_all", "DISCARD ALL"),
    # --- settings functions ------------------------------------------------------------
    ("set_config_role", "select set_config('role', 'postgres', false)"),
    ("set_config_read_only_off", "select set_config('transaction_read_only', 'off', true)"),
    ("set_config_schema_qualified", "select pg_catalog.set_config('role', 'postgres', false)"),
    ("set_config_in_from", "select * from set_config('role', 'postgres', false)"),
    ("set_config_quoted_name", "select \"set_config\"('role', 'postgres', false)"),
    ("set_config_mixed_case", "SeLeCt SET_CONFIG('role', 'postgres', FALSE)"),
    ("current_setting_data_directory", "select current_setting('data_directory')"),
    # --- the function allow list (issue 17) -----------------------------------------------
    (
        "hypopg_runs_sql_text",
        "select * from hypopg_create_index('create index on raw.customers (customer_id)')",
    ),
    ("hypopg_qualified", "select public.hypopg_create_index('create index on raw.customers (customer_id)')"),
    ("unlisted_extension_function", "select similarity(email, 'a') from raw.customers"),
    ("server_version", "select version()"),
    ("server_address_and_port", "select inet_server_addr(), inet_server_port()"),
    ("server_start_time", "select pg_postmaster_start_time()"),
    ("sleep_for_qualified", "select pg_catalog.pg_sleep_for('1 second')"),
    ("setseed_session_state", "select setseed(0.5)"),
    ("operator_from_another_schema", "select 1 OPERATOR(public.+) 1"),
    ("update_pg_settings", "UPDATE pg_settings SET setting = 'off' WHERE name = 'transaction_read_only'"),
    ("show_all", "SHOW ALL"),
    # --- COPY, DO, EXPLAIN and other utility statements ---------------------------------
    ("copy_to_program", "COPY raw.customers TO PROGRAM 'id'"),
    ("copy_from_program", "COPY raw.customers FROM PROGRAM 'cat /etc/passwd'"),
    ("copy_query_to_file", "COPY (select 1) TO '/tmp/x'"),
    ("do_block_delete", "DO $$ begin delete from raw.customers; end $$"),
    ("explain_analyze_delete", "EXPLAIN ANALYZE DELETE FROM raw.customers"),
    ("explain_select", "EXPLAIN SELECT 1"),
    ("lock_table", "LOCK TABLE raw.customers IN ACCESS EXCLUSIVE MODE"),
    ("vacuum", "VACUUM raw.customers"),
    ("vacuum_full", "VACUUM FULL"),
    ("analyze", "ANALYZE raw.customers"),
    ("checkpoint", "CHECKPOINT"),
    ("reindex", "REINDEX TABLE raw.customers"),
    ("cluster", "CLUSTER raw.customers"),
    ("load_library", "LOAD 'plpgsql'"),
    ("prepare_delete", "PREPARE p AS DELETE FROM raw.customers"),
    ("execute_prepared", "EXECUTE p"),
    ("listen", "LISTEN telcopulse"),
    ("notify_statement", "NOTIFY telcopulse, 'payload'"),
    ("call_procedure", "CALL proc()"),
    ("declare_cursor", "DECLARE c CURSOR FOR SELECT * FROM raw.customers"),
    ("fetch_cursor", "FETCH ALL FROM c"),
    ("values_only", "VALUES (1), (2)"),
    # --- DML and DDL ---------------------------------------------------------------------
    ("delete", "DELETE FROM raw.customers"),
    ("update", "UPDATE raw.customers SET account_type = 'Enterprise'"),
    ("insert_select", "INSERT INTO raw.revenue SELECT * FROM raw.revenue"),
    (
        "merge_delete",
        "MERGE INTO raw.revenue r USING raw.revenue s ON r.revenue_id = s.revenue_id "
        "WHEN MATCHED THEN DELETE",
    ),
    ("truncate", "TRUNCATE raw.customers"),
    ("drop_schema_cascade", "DROP SCHEMA marts CASCADE"),
    ("create_table_as", "CREATE TABLE marts.stolen AS SELECT * FROM marts.dim_customers"),
    ("create_temp_table_as", "CREATE TEMP TABLE scratch AS SELECT 1"),
    ("create_function", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ select 1 $$"),
    ("create_extension_dblink", "CREATE EXTENSION dblink"),
    ("alter_system", "ALTER SYSTEM SET log_statement = 'none'"),
    ("alter_role_superuser", "ALTER ROLE telcopulse_query SUPERUSER"),
    ("grant", "GRANT SELECT ON raw.customers TO telcopulse_query"),
    ("comment_on", "COMMENT ON TABLE raw.customers IS 'owned'"),
    ("refresh_materialized_view", "REFRESH MATERIALIZED VIEW marts.fct_arpu_monthly"),
    ("select_into", "SELECT * INTO new_table FROM marts.dim_customers"),
    # --- data-modifying CTEs ------------------------------------------------------------
    ("cte_delete", "WITH d AS (DELETE FROM raw.customers RETURNING *) SELECT count(*) FROM d"),
    ("cte_update", "WITH u AS (UPDATE raw.revenue SET amount = 0 RETURNING 1) SELECT * FROM u"),
    (
        "cte_insert",
        "WITH i AS (INSERT INTO raw.revenue SELECT * FROM raw.revenue RETURNING 1) SELECT count(*) FROM i",
    ),
    (
        "cte_nested_delete",
        "WITH a AS (SELECT 1 AS x), "
        "b AS (WITH c AS (DELETE FROM raw.revenue RETURNING 1 AS y) SELECT * FROM c) "
        "SELECT * FROM a, b",
    ),
    ("cte_delete_then_delete_statement", "WITH x AS (SELECT 1) DELETE FROM raw.customers"),
    # --- row locks ------------------------------------------------------------------------
    ("for_update", "select * from marts.dim_customers for update"),
    ("for_share", "select * from marts.dim_customers for share"),
    ("for_no_key_update", "select * from marts.dim_customers for no key update"),
    ("for_key_share", "select * from marts.dim_customers for key share"),
    ("for_update_in_subquery", "select * from (select * from marts.dim_customers for update nowait) s"),
    (
        "for_update_in_cte",
        "with c as (select * from marts.dim_customers for update skip locked) select * from c",
    ),
    # --- comments -------------------------------------------------------------------------
    ("comment_line_hides_drop", "select 1 -- ; drop table raw.customers"),
    ("comment_block_then_drop", "select 1 /* */; drop table raw.customers"),
    ("comment_nested", "select 1 /* outer /* inner */ still a comment */"),
    ("comment_only", "/* nothing to see */"),
    (
        "comment_line_then_newline_delete",
        "select count(*) from marts.dim_customers --\n; delete from raw.customers",
    ),
    ("comment_hint_style", "select /*+ SeqScan(c) */ count(*) from marts.dim_customers c"),
    # --- denied functions, wherever they stand ------------------------------------------
    ("pg_read_file_select_list", "select pg_read_file('/etc/passwd')"),
    ("pg_read_file_in_from", "select * from pg_read_file('/etc/passwd')"),
    ("pg_read_file_qualified_in_from", "select * from pg_catalog.pg_read_file('/etc/passwd')"),
    ("pg_read_file_attribute_notation", "select ('/etc/passwd'::text).pg_read_file"),
    ("pg_read_file_quoted_name", "select \"pg_read_file\"('/etc/passwd')"),
    (
        "pg_read_binary_file_lateral",
        "select c.customer_id, f.* from marts.dim_customers c "
        "cross join lateral pg_read_binary_file('/etc/passwd') f",
    ),
    ("pg_read_file_rows_from", "select * from rows from (pg_read_file('/etc/passwd')) as t(x)"),
    ("pg_ls_dir", "select * from pg_ls_dir('.')"),
    ("pg_ls_waldir", "select name from pg_ls_waldir()"),
    ("pg_stat_file_in_where", "select 1 where (pg_stat_file('postgresql.conf')).size > 0"),
    ("lo_import", "select lo_import('/etc/passwd')"),
    ("lo_export", "select lo_export(12345, '/tmp/pwned')"),
    ("lo_from_bytea", "select lo_from_bytea(0, 'payload'::bytea)"),
    ("dblink_delete", "select * from dblink('dbname=telcopulse', 'delete from raw.customers') as t(x text)"),
    ("dblink_exec", "select dblink_exec('dbname=telcopulse', 'drop table raw.customers')"),
    ("query_to_xml_delete", "select query_to_xml('delete from raw.customers returning 1', true, true, '')"),
    ("table_to_xml_raw", "select table_to_xml('raw.customers', true, false, '')"),
    ("ts_stat_executes_sql", "select * from ts_stat('delete from raw.customers returning null::tsvector')"),
    ("pg_sleep", "select pg_sleep(100)"),
    ("pg_sleep_in_where_subquery", "select * from marts.dim_customers where exists (select pg_sleep(100))"),
    ("pg_sleep_in_cte", "with s as (select pg_sleep(100)) select * from s"),
    ("pg_sleep_in_order_by", "select customer_id from marts.dim_customers order by pg_sleep(1)"),
    (
        "pg_sleep_in_join_on",
        "select 1 from marts.dim_customers a join marts.dim_customers b on pg_sleep(1) is null",
    ),
    ("pg_sleep_in_window", "select sum(1) over (order by pg_sleep(1)) from marts.dim_customers"),
    ("pg_sleep_attribute_notation", "select (100::float8).pg_sleep"),
    ("pg_sleep_for", "select pg_sleep_for('5 minutes')"),
    ("pg_sleep_until_nonbreaking_space", "select\u00a0pg_sleep_until(now() + interval '1 hour')"),
    ("pg_terminate_own_backend", "select pg_terminate_backend(pg_backend_pid())"),
    ("pg_terminate_all_backends", "select pg_terminate_backend(pid) from pg_stat_activity"),
    ("pg_cancel_backend", "select pg_cancel_backend(pid) from pg_stat_activity"),
    ("pg_reload_conf", "select pg_reload_conf()"),
    ("pg_switch_wal", "select pg_switch_wal()"),
    ("pg_create_logical_replication_slot", "select pg_create_logical_replication_slot('s', 'test_decoding')"),
    ("pg_advisory_lock", "select pg_advisory_lock(1)"),
    ("pg_try_advisory_xact_lock", "select pg_try_advisory_xact_lock(42)"),
    ("nextval", "select nextval('raw.some_seq')"),
    ("setval", "select setval('raw.some_seq', 1)"),
    ("pg_notify", "select pg_notify('telcopulse', 'payload')"),
    ("txid_current", "select txid_current()"),
    ("pg_current_xact_id", "select pg_current_xact_id()"),
    ("pg_export_snapshot", "select pg_export_snapshot()"),
    ("pg_stat_reset", "select pg_stat_reset()"),
    ("unknown_schema_function", "select extensions.anything(1)"),
    # --- parameters -------------------------------------------------------------------------
    ("positional_dollar", "select * from marts.dim_customers where customer_id = $1"),
    ("positional_percent_s", "select * from marts.dim_customers where location = %s"),
    ("positional_question_mark", "select * from marts.dim_customers where location = ?"),
    # --- parser differentials and oddities ---------------------------------------------------
    ("unicode_escaped_identifier_function", "select U&\"\\0070g_read_file\"('/etc/passwd')"),
    ("unicode_escaped_identifier_table", 'select * from U&"r\\0061w".customers'),
    ("unterminated_string", "select 'abc"),
    ("unterminated_dollar_quote", "select $$abc"),
    ("deep_nesting", "select " + "(" * 3000 + "1" + ")" * 3000),
    ("empty", "   \n\t "),
    ("too_long", "select " + " + ".join(["1"] * 7000)),
]

BENIGN: list[tuple[str, str, dict]] = [
    (
        "churn_recent_months",
        "SELECT month, account_type, location, churn_rate FROM marts.fct_customer_churn_monthly "
        "WHERE is_complete_month ORDER BY month DESC, account_type, location LIMIT 24",
        {},
    ),
    (
        "churn_named_colon_params",
        "select month, location, customers_churned, customers_at_risk\n"
        "from marts.fct_customer_churn_monthly\n"
        "where account_type = :account_type and month >= cast(:since as text)::date\n"
        "order by month",
        {"account_type": "Premium", "since": "2024-01-01"},
    ),
    (
        "churn_psycopg_params_reused",
        "SELECT month, churn_rate FROM marts.fct_customer_churn_monthly "
        "WHERE account_type = %(kind)s AND churn_rate > %(threshold)s "
        "UNION ALL SELECT month, churn_rate FROM marts.fct_customer_churn_monthly "
        "WHERE account_type <> %(kind)s AND churn_rate > %(threshold)s * 2",
        {"kind": "Basic", "threshold": 0.05},
    ),
    (
        "any_list_param",
        "SELECT account_type, count(*) AS customers FROM marts.dim_customers "
        "WHERE location = ANY(:locations) GROUP BY account_type ORDER BY account_type",
        {"locations": ["North", "South", "Central"]},
    ),
    (
        "arpu_by_service_with_limit_param",
        "SELECT month, service_type, round(arpu::numeric, 2) AS arpu FROM marts.fct_arpu_monthly "
        "WHERE service_type IN ('voice', 'data') ORDER BY month DESC, service_type LIMIT :n OFFSET :skip",
        {"n": 10, "skip": 0},
    ),
    (
        "multiple_ctes",
        "WITH monthly AS (\n"
        "  SELECT month, sum(revenue) AS revenue, sum(active_customers) AS customers\n"
        "  FROM marts.fct_arpu_monthly WHERE is_complete_month GROUP BY month\n"
        "), with_growth AS (\n"
        "  SELECT month, revenue, customers,\n"
        "         revenue / NULLIF(lag(revenue) OVER (ORDER BY month), 0) - 1 AS growth\n"
        "  FROM monthly\n"
        ")\n"
        "SELECT * FROM with_growth ORDER BY month",
        {},
    ),
    (
        "nested_cte",
        "WITH outer_cte AS (WITH inner_cte AS (SELECT location, count(*) AS n FROM marts.dim_customers "
        "GROUP BY location) SELECT location, n, n * 1.0 / sum(n) OVER () AS share FROM inner_cte) "
        "SELECT location, n, share FROM outer_cte ORDER BY n DESC",
        {},
    ),
    (
        "window_rank_and_running_sum",
        "SELECT month, account_type, revenue,\n"
        "  rank() OVER (PARTITION BY month ORDER BY revenue DESC) AS rnk,\n"
        "  sum(revenue) OVER (PARTITION BY account_type ORDER BY month\n"
        "                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_revenue,\n"
        "  avg(revenue) OVER (PARTITION BY account_type ORDER BY month\n"
        "                     ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS moving_avg\n"
        "FROM marts.fct_arpu_monthly ORDER BY month, account_type",
        {},
    ),
    (
        "named_window_lag_lead",
        "SELECT event_date, location, avg_quality_score, lag(avg_quality_score, 7) OVER w AS week_ago, "
        "lead(avg_quality_score) OVER w AS next_day, row_number() OVER w AS rn "
        "FROM marts.fct_network_quality_daily WHERE event_type = 'call' "
        "WINDOW w AS (PARTITION BY location ORDER BY event_date) ORDER BY location, event_date",
        {},
    ),
    (
        "distinct_on_latest_per_location",
        "SELECT DISTINCT ON (location) location, event_date, avg_quality_score "
        "FROM marts.fct_network_quality_daily ORDER BY location, event_date DESC",
        {},
    ),
    (
        "filter_clause",
        "SELECT account_type, count(*) AS customers, count(*) FILTER (WHERE is_churned) AS churned, "
        "avg(lifetime_revenue) FILTER (WHERE NOT is_churned) AS avg_revenue_active "
        "FROM marts.dim_customers GROUP BY account_type",
        {},
    ),
    (
        "percentile_within_group",
        "SELECT location, percentile_cont(0.5) WITHIN GROUP (ORDER BY tenure_days) AS median_tenure, "
        "percentile_disc(0.9) WITHIN GROUP (ORDER BY lifetime_revenue DESC) AS p90_revenue, "
        "mode() WITHIN GROUP (ORDER BY account_type) AS common_plan "
        "FROM marts.dim_customers GROUP BY location",
        {},
    ),
    (
        "casts_date_trunc_interval",
        "SELECT date_trunc('month', churned_at)::date AS churn_month, count(*)::numeric AS n, "
        "(max(churned_at) - interval '1 month')::date AS a_month_before, "
        "current_date - interval '30 days' AS thirty_days_ago, "
        "min(extract(year FROM signup_date)) AS first_year "
        "FROM marts.dim_customers WHERE churned_at IS NOT NULL GROUP BY 1",
        {},
    ),
    (
        "generate_series_calendar",
        "SELECT m::date AS month, coalesce(sum(f.revenue), 0) AS revenue "
        "FROM generate_series(date '2024-01-01', date '2024-12-01', interval '1 month') AS g(m) "
        "LEFT JOIN marts.fct_arpu_monthly f ON f.month = g.m::date GROUP BY m ORDER BY m",
        {},
    ),
    (
        "lateral_top_customers_per_location",
        "SELECT l.location, top.customer_id, top.lifetime_revenue "
        "FROM (SELECT DISTINCT location FROM marts.dim_customers) l "
        "CROSS JOIN LATERAL (SELECT c.customer_id, c.lifetime_revenue FROM marts.dim_customers c "
        "WHERE c.location = l.location ORDER BY c.lifetime_revenue DESC NULLS LAST LIMIT 3) top",
        {},
    ),
    (
        "case_coalesce_ilike",
        "SELECT customer_id, CASE WHEN tenure_days < 90 THEN 'new' WHEN tenure_days < 365 THEN 'settling' "
        "ELSE 'loyal' END AS tenure_band, COALESCE(churn_date::text, 'active') AS status "
        "FROM marts.dim_customers WHERE location ILIKE 'north%' AND gender IS DISTINCT FROM 'unknown'",
        {},
    ),
    (
        "string_literals_with_sql_syntax",
        "SELECT 'a;b' AS semicolon, 'x -- not a comment' AS dashes, '/* not a comment */' AS block, "
        "$$dollar ' quoted; -- text$$ AS dollar, $tag$it's $$ nested$tag$ AS tagged, 'it''s' AS escaped, "
        "E'line1\\nline2' AS escape_string, 'back\\slash' AS backslash",
        {},
    ),
    (
        "string_literal_with_colon_and_percent",
        "SELECT account_type || ': ' || to_char(count(*), 'FM999G999') AS label, "
        "'100%(x)s :notaparam' AS text "
        "FROM marts.dim_customers GROUP BY account_type",
        {},
    ),
    (
        "union_all_and_except",
        "(SELECT location FROM marts.dim_customers WHERE account_type = 'Enterprise' "
        "UNION ALL SELECT location FROM marts.customer_features WHERE is_churned) "
        "EXCEPT SELECT location FROM marts.fct_network_quality_daily WHERE poor_quality_share > 0.5",
        {},
    ),
    (
        "intersect",
        "SELECT customer_id FROM marts.dim_customers WHERE is_churned "
        "INTERSECT SELECT customer_id FROM marts.customer_features WHERE days_since_last_event > 30",
        {},
    ),
    (
        "exists_and_in_subquery",
        "SELECT c.customer_id, c.account_type FROM marts.dim_customers c "
        "WHERE EXISTS (SELECT 1 FROM staging.stg_telco__network_events e WHERE e.customer_id = c.customer_id "
        "AND e.is_poor_quality) AND c.location IN (SELECT location FROM marts.fct_network_quality_daily "
        "GROUP BY location HAVING avg(avg_quality_score) < 3) LIMIT 50",
        {},
    ),
    (
        "group_by_rollup",
        "SELECT account_type, location, sum(lifetime_revenue) AS revenue, "
        "grouping(account_type, location) AS g "
        "FROM marts.dim_customers GROUP BY ROLLUP (account_type, location) ORDER BY account_type, location",
        {},
    ),
    (
        "group_by_grouping_sets_and_cube",
        "SELECT event_type, location, sum(event_count) AS events FROM marts.fct_network_quality_daily "
        "GROUP BY GROUPING SETS ((event_type), (location), ()) "
        "UNION ALL SELECT event_type, location, sum(event_count) FROM marts.fct_network_quality_daily "
        "GROUP BY CUBE (event_type, location)",
        {},
    ),
    (
        "order_by_nulls_last_limit_offset",
        "SELECT customer_id, churn_date FROM marts.dim_customers "
        "ORDER BY churn_date DESC NULLS LAST, age ASC NULLS FIRST, customer_id LIMIT 20 OFFSET 40",
        {},
    ),
    (
        "information_schema_tables",
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name",
        {},
    ),
    (
        "information_schema_columns_param",
        "select column_name, data_type from information_schema.columns "
        "where table_schema = :schema and table_name = :table order by ordinal_position",
        {"schema": "marts", "table": "dim_customers"},
    ),
    (
        "pg_catalog_views",
        "SELECT n.nspname, c.relname, c.reltuples::bigint FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname IN ('marts', 'staging') AND c.relkind IN ('r', 'v', 'm') ORDER BY 1, 2",
        {},
    ),
    ("trailing_semicolon", "SELECT count(*) FROM marts.fct_arpu_monthly;", {}),
    (
        "mixed_case_keywords_and_quoted_identifiers",
        'sElEcT "month", "account_type" AS "Plan", Sum(Revenue) As total FrOm MARTS.FCT_ARPU_MONTHLY '
        'GrOuP bY "month", "account_type" oRdEr By "month"',
        {},
    ),
    (
        "customer_features_bool_and_nulls",
        "SELECT usage_trend, count(*) AS n, avg(avg_monthly_data_mb) AS avg_mb, "
        "bool_or(is_churned) AS any_churn, "
        "sum(CASE WHEN is_churned THEN 1 ELSE 0 END)::float / count(*) AS rate "
        "FROM marts.customer_features WHERE usage_trend IS NOT NULL GROUP BY usage_trend HAVING count(*) > 0",
        {},
    ),
    (
        "staging_events_hourly_profile",
        "SELECT event_hour, event_type, count(*) AS events, avg(network_quality_score) AS quality, "
        "sum(data_usage_mb) AS mb, avg(duration_seconds) FILTER (WHERE event_type = 'call') AS avg_call_s "
        "FROM staging.stg_telco__network_events "
        "WHERE event_date BETWEEN cast(:start as text)::date AND cast(:end as text)::date "
        "GROUP BY event_hour, event_type ORDER BY event_hour, event_type",
        {"start": "2024-01-01", "end": "2024-03-31"},
    ),
    (
        "string_functions_and_aggregates",
        "SELECT location, string_agg(DISTINCT account_type, ', ' ORDER BY account_type) AS plans, "
        "array_agg(DISTINCT age_band) AS bands, upper(left(location, 3)) AS code, "
        "length(location) AS len, split_part(location || '-x', '-', 1) AS part "
        "FROM marts.dim_customers GROUP BY location",
        {},
    ),
    (
        "values_in_from_and_join",
        "SELECT v.plan, v.price, count(c.customer_id) AS customers "
        "FROM (VALUES ('Basic', 10), ('Premium', 25), ('Enterprise', 100)) AS v(plan, price) "
        "LEFT JOIN marts.dim_customers c ON c.account_type = v.plan GROUP BY v.plan, v.price",
        {},
    ),
    (
        "scalar_subquery_and_nullif",
        "SELECT location, count(*) AS n, "
        "round(100.0 * count(*) / NULLIF((SELECT count(*) FROM marts.dim_customers), 0), 1) AS pct "
        "FROM marts.dim_customers GROUP BY location ORDER BY pct DESC",
        {},
    ),
    (
        "recursive_cte_bounded",
        "WITH RECURSIVE months(m, n) AS (SELECT date '2024-01-01', 1 UNION ALL "
        "SELECT (m + interval '1 month')::date, n + 1 FROM months WHERE n < 12) SELECT m, n FROM months",
        {},
    ),
    (
        "boolean_and_null_params",
        "SELECT count(*) FROM marts.dim_customers WHERE is_churned = :churned "
        "AND (cast(:plan as text) IS NULL OR account_type = :plan)",
        {"churned": True, "plan": None},
    ),
    (
        "regex_similar_and_between",
        "SELECT customer_id FROM marts.dim_customers WHERE location ~ '^(North|South)' "
        "AND age_band SIMILAR TO '[0-9]+%' AND age BETWEEN :min_age AND :max_age",
        {"min_age": 18, "max_age": 65},
    ),
    (
        "churn_rate_trend_with_stats",
        "SELECT account_type, corr(extract(epoch FROM month), churn_rate) AS trend_corr, "
        "stddev_samp(churn_rate) AS sd, regr_slope(churn_rate, extract(epoch FROM month)) AS slope "
        "FROM marts.fct_customer_churn_monthly WHERE is_complete_month GROUP BY account_type",
        {},
    ),
    (
        "parenthesized_query",
        "(SELECT month, new_customers FROM marts.fct_customer_churn_monthly ORDER BY month DESC LIMIT 3)",
        {},
    ),
    (
        "table_sample_and_fetch_first",
        "SELECT customer_id, tenure_days FROM marts.customer_features "
        "TABLESAMPLE BERNOULLI (50) REPEATABLE (42) "
        "ORDER BY tenure_days DESC FETCH FIRST 5 ROWS ONLY",
        {},
    ),
]
