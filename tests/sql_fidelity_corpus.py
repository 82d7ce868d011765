"""SQL fidelity corpus: queries whose results must not change when `query_database` re-renders them.

`query_database` parses an agent's SQL with sqlglot and runs the re-rendered text, not the text
it was sent. The fidelity test runs every query below twice against the same built warehouse,
once exactly as written directly on PostgreSQL and once through the tool, and requires the same
column names (including the names PostgreSQL derives for unaliased expressions: `now`,
`?column?`, `date_part`, `current_time`, `numeric`, `btrim`...), the same column types and the
same rows.

Data only. Every entry is one read-only statement of valid PostgreSQL 15, the kind a telecom
analyst or an AI agent writes: no comments, no semicolons, no parameters or placeholders, no `?`
operator. It reads only the `marts`, `intermediate` and `staging` schemas (a few read
information_schema), or no table at all. Rows are deterministic on a given warehouse: at most
about 200 of them, in a total order (or a single row). Queries whose rows may legitimately
differ between two runs (now(), CURRENT_TIME, random()...) are listed in VOLATILE and are
compared on column names and types only.

Many queries leave select expressions unaliased on purpose, so that the derived column names
are compared too.
"""

from __future__ import annotations

FIDELITY: list[tuple[str, str]] = [
    # --- date and time -------------------------------------------------------------------
    ("now_bare", "SELECT now()"),
    ("current_date_bare", "SELECT CURRENT_DATE"),
    ("current_time_bare", "SELECT CURRENT_TIME"),
    ("current_timestamp_bare", "SELECT CURRENT_TIMESTAMP"),
    ("localtime_bare", "SELECT LOCALTIME"),
    ("localtimestamp_bare", "SELECT LOCALTIMESTAMP"),
    (
        "current_keywords_lowercase",
        "select current_date, current_time, current_timestamp, localtime, localtimestamp",
    ),
    (
        "current_keywords_precision",
        "SELECT CURRENT_TIMESTAMP(0), CURRENT_TIME(2), LOCALTIMESTAMP(3), LOCALTIME(1)",
    ),
    (
        "current_date_arithmetic",
        "SELECT CURRENT_DATE - 7, CURRENT_DATE + interval '1 month', CURRENT_DATE - date '2020-01-01'",
    ),
    (
        "now_casts_and_trunc",
        "SELECT now()::date, now()::time(0), date_trunc('day', now()), now() - interval '30 days' < now()",
    ),
    (
        "clock_functions",
        "SELECT clock_timestamp() >= statement_timestamp(), transaction_timestamp() = now(), "
        "timeofday() IS NOT NULL, statement_timestamp()",
    ),
    ("now_at_time_zone", "SELECT now() AT TIME ZONE 'UTC', CURRENT_TIMESTAMP AT TIME ZONE 'Europe/Paris'"),
    ("age_single_argument", "SELECT age(timestamp '2000-01-01'), age(date '2020-02-29')"),
    (
        "signups_up_to_today",
        "SELECT count(*) FROM marts.dim_customers WHERE signup_date <= CURRENT_DATE",
    ),
    (
        "date_part_forms",
        "SELECT date_part('year', date '2024-02-29'), date_part('dow', timestamp '2024-02-29 13:45:00'), "
        "date_part('epoch', interval '1 day 2 hours'), date_part('hour', time '13:45')",
    ),
    (
        "extract_forms",
        "SELECT extract(year FROM date '2024-02-29'), EXTRACT(MONTH FROM timestamp '2024-02-29 13:45:00'), "
        "extract(epoch from timestamptz '2024-01-01 00:00:00+00'), extract(isodow from date '2024-03-03'), "
        "extract(quarter from date '2024-08-15'), extract(century from date '2024-01-01')",
    ),
    (
        "extract_interval_fields",
        "SELECT EXTRACT(DAY FROM interval '40 days 3 hours'), extract(hours from interval '40 days 3 hours'), "
        "extract(minute FROM time '10:42:07'), extract(microseconds from interval '1.5 seconds')",
    ),
    (
        "extract_months_of_arpu_mart",
        "SELECT extract(year from month) AS yr, extract(month from month), count(*) "
        "FROM marts.fct_arpu_monthly GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "date_trunc_forms",
        "SELECT date_trunc('month', timestamp '2024-05-17 10:11:12'), date_trunc('week', date '2024-05-17'), "
        "date_trunc('hour', interval '3 days 04:05:06'), "
        "date_trunc('quarter', timestamptz '2024-05-17 10:11:12+00', 'UTC')",
    ),
    (
        "date_trunc_quarter_events",
        "SELECT date_trunc('quarter', event_date)::date AS quarter, sum(event_count) "
        "FROM marts.fct_network_quality_daily GROUP BY 1 ORDER BY 1",
    ),
    (
        "age_two_arguments",
        "SELECT age(timestamp '2024-03-01', timestamp '2023-01-15'), "
        "age(timestamptz '2024-03-01 00:00+00', timestamptz '2024-02-01 12:00+00'), "
        "age(date '2024-02-29', date '2020-02-29')",
    ),
    (
        "age_of_oldest_customers",
        "SELECT customer_id, signup_date, age(as_of_date, signup_date) FROM marts.dim_customers "
        "ORDER BY signup_date, customer_id LIMIT 10",
    ),
    (
        "make_date_time_functions",
        "SELECT make_date(2024, 2, 29), make_time(13, 45, 30.5), make_timestamp(2024, 1, 2, 3, 4, 5.6), "
        "make_timestamptz(2024, 1, 2, 3, 4, 5, 'UTC')",
    ),
    (
        "make_interval_named_arguments",
        "SELECT make_interval(days => 10), make_interval(1, 2, 3, 4, 5, 6, 7.5), "
        "make_interval(hours => 36, mins => 30), make_interval(years := 1)",
    ),
    (
        "to_char_dates_and_numbers",
        "SELECT to_char(timestamp '2024-05-17 13:05:09', 'YYYY-MM-DD HH24.MI.SS'), "
        "to_char(date '2024-05-17', 'FMDay, DD FMMonth YYYY'), to_char(1234567.891, 'FM9,999,999.00'), "
        "to_char(interval '15 hours 2 minutes', 'HH24 \"h\" MI'), to_char(0.25 * 100, 'FM990.0\"%\"'), "
        "to_char(42, '000099')",
    ),
    (
        "to_date_to_timestamp_to_number",
        "SELECT to_date('17/05/2024', 'DD/MM/YYYY'), to_timestamp('2024-05-17 13.05', 'YYYY-MM-DD HH24.MI'), "
        "to_timestamp(1700000000), to_number('1,234.50', '9G999D99'), to_date('2024 136', 'YYYY DDD')",
    ),
    (
        "date_bin_forms",
        "SELECT date_bin(interval '15 minutes', timestamp '2024-05-17 13:07:42', timestamp '2024-01-01'), "
        "date_bin('1 hour'::interval, timestamptz '2024-05-17 13:07:42+00', timestamptz '2024-01-01 00:00:00+00')",
    ),
    (
        "date_bin_events_last_day",
        "SELECT date_bin(interval '6 hours', event_timestamp, timestamp '2000-01-01') AS bucket, count(*), "
        "count(DISTINCT customer_id) FROM staging.stg_telco__network_events "
        "WHERE event_date = (SELECT max(event_date) FROM staging.stg_telco__network_events) "
        "GROUP BY 1 ORDER BY 1",
    ),
    (
        "justify_functions",
        "SELECT justify_days(interval '35 days'), justify_hours(interval '50 hours'), "
        "justify_interval(interval '1 month -1 hour'), justify_days(interval '-45 days')",
    ),
    (
        "isfinite_and_infinity",
        "SELECT isfinite(date '2024-01-01'), isfinite(timestamp 'infinity'), isfinite(interval '4 hours'), "
        "'infinity'::date > date '9999-12-31', '-infinity'::timestamp::text, (date 'infinity')::text, "
        "date 'infinity' > CURRENT_DATE",
    ),
    (
        "at_time_zone_forms",
        "SELECT timestamp '2024-05-17 12:00:00' AT TIME ZONE 'UTC', "
        "timestamptz '2024-05-17 12:00:00+00' AT TIME ZONE 'America/New_York', "
        "timezone('Asia/Tokyo', timestamptz '2024-05-17 12:00:00+00'), "
        "time with time zone '12:00+00' AT TIME ZONE 'Europe/Berlin'",
    ),
    (
        "at_time_zone_on_events",
        "SELECT event_id, event_timestamp, event_timestamp AT TIME ZONE 'UTC' AT TIME ZONE 'Europe/London' "
        "FROM staging.stg_telco__network_events ORDER BY event_timestamp DESC, event_id LIMIT 5",
    ),
    (
        "overlaps_literals",
        "SELECT (date '2024-01-01', date '2024-03-01') OVERLAPS (date '2024-02-15', interval '30 days'), "
        "(timestamp '2024-01-01 00:00', timestamp '2024-01-02 00:00') OVERLAPS "
        "(timestamp '2024-01-02 00:00', timestamp '2024-01-03 00:00')",
    ),
    (
        "overlaps_last_quarter_customers",
        "SELECT c.account_type, count(*) FROM marts.dim_customers c "
        "WHERE (c.signup_date, coalesce(c.churn_date, c.as_of_date)) OVERLAPS (c.as_of_date - 90, c.as_of_date) "
        "GROUP BY c.account_type ORDER BY c.account_type",
    ),
    (
        "interval_literal_forms",
        "SELECT interval '1 day', '1 day'::interval, INTERVAL '2 hours 30 minutes', interval '1' year, "
        "interval '90' minute, interval '1-2' year to month, interval 'P1Y2M3DT4H5M6S', "
        "CAST('36 hours' AS interval), interval '1 week ago'",
    ),
    (
        "interval_arithmetic",
        "SELECT interval '1 day' * 3, interval '1 hour' / 4, interval '1 month' + interval '1 day', "
        "- interval '5 minutes', interval '1 day' - interval '1 hour' > interval '20 hours', 2.5 * interval '1 hour'",
    ),
    (
        "typed_datetime_literals",
        "SELECT date '2024-01-01', time '13:45:00', timetz '13:45:00+02', timestamp '2024-01-01 08:00:00', "
        "timestamptz '2024-01-01 08:00:00+00', timestamp with time zone '2024-06-01 00:00:00+02', "
        "time without time zone '23:59:59', timestamp without time zone '2024-02-29'",
    ),
    (
        "date_arithmetic",
        "SELECT date '2024-03-01' - 1, date '2024-03-01' - date '2024-01-01', "
        "date '2024-01-31' + interval '1 month', date '2024-01-01' + 30, date '2024-01-01' + time '06:30', "
        "timestamp '2024-01-01 00:00' - timestamp '2023-12-25 12:00', 7 + date '2024-01-01'",
    ),
    (
        "generate_series_weeks",
        "SELECT d::date FROM generate_series(date '2024-01-01', date '2024-03-01', interval '1 week') AS g(d) "
        "ORDER BY 1",
    ),
    (
        "generate_series_hours_unaliased",
        "SELECT generate_series(timestamp '2024-01-01 00:00', timestamp '2024-01-01 12:00', interval '3 hours') "
        "ORDER BY 1",
    ),
    (
        "month_spine_revenue",
        "SELECT m::date AS month, coalesce(sum(a.revenue), 0) "
        "FROM generate_series((SELECT min(month) FROM marts.fct_arpu_monthly), "
        "(SELECT max(month) FROM marts.fct_arpu_monthly), interval '1 month') AS m "
        "LEFT JOIN marts.fct_arpu_monthly a ON a.month = m::date GROUP BY 1 ORDER BY 1",
    ),
    (
        "exact_tenure_from_epoch",
        "SELECT customer_id, extract(epoch FROM (coalesce(churned_at, as_of_date::timestamp) - created_at)) / 86400 "
        "AS tenure_days_exact FROM marts.dim_customers ORDER BY created_at, customer_id LIMIT 10",
    ),
    (
        "signup_weekday_profile",
        "SELECT to_char(signup_date, 'Dy') AS dow, extract(isodow FROM signup_date), count(*) "
        "FROM marts.dim_customers GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "datetime_comparisons",
        "SELECT date '2024-01-01' < timestamp '2024-01-01 00:00:01', timestamp '2024-01-01' = date '2024-01-01', "
        "time '10:00' BETWEEN time '09:00' AND time '17:00', timestamptz '2024-01-01 00:00+00' = timestamp '2024-01-01'",
    ),
    (
        "month_end_dates",
        "SELECT month, (month + interval '1 month' - interval '1 day')::date, month_end_date, days_in_month "
        "FROM intermediate.int_months ORDER BY month",
    ),
    (
        "month_labels",
        "SELECT DISTINCT to_char(month, 'YYYY-MM') AS ym, to_char(month, 'Mon YYYY') "
        "FROM marts.fct_customer_churn_monthly ORDER BY 1",
    ),
    (
        "timestamp_precision_casts",
        "SELECT timestamp '2024-05-17 13:05:09.123456'::timestamp(0), "
        "CAST(timestamp '2024-05-17 13:05:09.123456' AS timestamp(3)), time '10:11:12.987'::time(1), "
        "timestamptz '2024-05-17 13:05:09.5+00'::timestamptz(0), interval '1.23456 seconds'::interval(2)",
    ),
    (
        "epoch_roundtrip",
        "SELECT to_timestamp(extract(epoch FROM timestamptz '2024-05-17 10:00:00+00')), "
        "extract(epoch FROM timestamp '1970-01-02')::int, to_timestamp(0) AT TIME ZONE 'UTC'",
    ),
    (
        "iso_week_event_totals",
        "SELECT date_part('isoyear', event_date)::int AS y, date_part('week', event_date)::int AS w, "
        "sum(event_count) FROM marts.fct_network_quality_daily GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "date_string_between",
        "SELECT count(*), min(event_date), max(event_date) FROM marts.fct_network_quality_daily "
        "WHERE event_date BETWEEN '2026-01-01' AND '2026-01-31'",
    ),
    (
        "history_window_spans",
        "SELECT last_event_at - first_event_at, as_of_date - first_month, age(last_month, first_month), "
        "(last_event_at - first_event_at) > interval '300 days' FROM intermediate.int_history_window",
    ),
    (
        "date_part_mart_columns",
        "SELECT date_part('month', churn_date) AS churn_month_number, count(*) FROM marts.dim_customers "
        "WHERE churn_date IS NOT NULL GROUP BY 1 ORDER BY 1",
    ),
    (
        "timestamp_minus_interval_events",
        "SELECT count(*) FROM staging.stg_telco__network_events e, intermediate.int_history_window h "
        "WHERE e.event_timestamp > h.last_event_at - interval '36 hours'",
    ),
    # --- casts -----------------------------------------------------------------------------
    (
        "cast_numeric_forms",
        "SELECT 1.5::numeric, CAST(2.345 AS numeric(10,2)), '3.14159'::decimal, numeric '42.0', "
        "CAST('7' AS decimal(5,1)), 2.5::numeric(3, 0)",
    ),
    (
        "cast_integer_forms",
        "SELECT '42'::int, CAST(3.7 AS integer), 7::int2, 8::int4, 9::int8, CAST(10 AS smallint), "
        "CAST('11' AS bigint), int '12', int4 '13', integer '14'",
    ),
    (
        "cast_float_forms",
        "SELECT 1.5::real, '2.5'::float, 3.5::float4, 4.5::float8, CAST(5.5 AS double precision), "
        "float8 '6.25', real '1e-3', CAST(1 AS float(24)), CAST(1 AS float(53))",
    ),
    (
        "cast_text_forms",
        "SELECT 123::text, CAST(456 AS varchar), 'abcdefgh'::varchar(5), CAST('ab' AS char(3)), "
        "'xyz'::character varying(2), 'q'::\"char\", 'padded '::bpchar, text 'literal', varchar 'v', "
        "CAST('x' AS character(2))",
    ),
    (
        "cast_char_padding",
        "SELECT 'ab'::char(5) = 'ab', length('ab'::char(5)), octet_length('ab'::char(5)), 'ab'::char(5) || 'c', "
        "concat('ab'::char(5), 'c'), 'ab'::char(5)::text",
    ),
    (
        "cast_boolean_forms",
        "SELECT 'yes'::boolean, CAST('f' AS bool), 1::boolean, bool 't', 'on'::bool, true::int, false::text, "
        "boolean 'off'",
    ),
    (
        "cast_datetime_forms",
        "SELECT '2024-01-01'::date, CAST('13:45' AS time), '13:45+02'::timetz, '2024-01-01 10:00'::timestamp, "
        "CAST('2024-01-01 10:00+00' AS timestamptz), '1 day 2 hours'::interval, "
        "CAST('2024-01-01 10:00:00.12345' AS timestamp(3)), '2024-01-01'::date::timestamptz",
    ),
    (
        "cast_json_forms",
        """SELECT '{"a": 1}'::json, CAST('[1, 2, 3]' AS jsonb), jsonb '{"b": [true, null]}', json '"str"', """
        """'{"a": 1, "a": 2}'::json, '{"a": 1, "a": 2}'::jsonb""",
    ),
    (
        "cast_uuid_forms",
        "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, CAST('A0EEBC999C0B4EF8BB6D6BB9BD380A11' AS uuid), "
        "uuid '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'",
    ),
    (
        "cast_network_forms",
        "SELECT '192.168.1.10/24'::inet, CAST('10.0.0.0/8' AS cidr), inet '2001:0db8::1', cidr '192.168.0.0/16', "
        "'10.1.2.3'::inet::text",
    ),
    (
        "cast_bytea_forms",
        r"SELECT '\x4142'::bytea, CAST('abc' AS bytea), bytea '\x00ff', convert_to('héllo', 'UTF8'), "
        r"'\x414243'::bytea::text",
    ),
    (
        "cast_money_forms",
        "SELECT 12.34::money, CAST('1234.5' AS money), 1000::numeric::money, (19.99::money * 3)::numeric",
    ),
    (
        "cast_oid_regclass_regtype",
        "SELECT 'marts.dim_customers'::regclass, 'marts.fct_arpu_monthly'::regclass::oid > 0, CAST(26 AS oid), "
        "'int4'::regtype, 'marts.dim_customers'::regclass::text, 'varchar'::regtype::text",
    ),
    (
        "cast_array_forms",
        "SELECT '{1,2,3}'::int[], CAST('{a,b}' AS text[]), ARRAY[1.5, 2.25]::numeric[], '{{1,2},{3,4}}'::integer[][], "
        "ARRAY['1', '2']::int4[], CAST(ARRAY[1, 2] AS bigint[]), '{1.5,NULL}'::float8[]",
    ),
    (
        "cast_range_forms",
        "SELECT '[1,10)'::int4range, CAST('[2024-01-01,2024-02-01)' AS daterange), int8range(1, 5, '[]'), "
        "numrange(1.5, 2.5), '(,5]'::int4range, 'empty'::numrange",
    ),
    (
        "cast_text_search_forms",
        "SELECT 'a fat cat sat'::tsvector, CAST('fat & rat' AS tsquery), to_tsvector('simple', 'The Fat Rats'), "
        "tsvector 'b a a'",
    ),
    (
        "cast_chains",
        "SELECT '42'::text::int::numeric(6,2)::text, CAST(CAST('7.9' AS numeric) AS int), (3.99)::int, "
        "'2024-05-17'::date::text::date",
    ),
    (
        "cast_mart_columns",
        "SELECT customer_id::text, age::numeric(5,1), tenure_days::float8 / 365.25, lifetime_revenue::int, "
        "is_churned::int, signup_date::timestamp, CAST(lifetime_transactions AS bigint) "
        "FROM marts.dim_customers ORDER BY customer_id LIMIT 10",
    ),
    (
        "cast_in_where",
        "SELECT count(*) FROM marts.dim_customers WHERE customer_id::text LIKE 'a%' OR age::text LIKE '2_'",
    ),
    (
        "cast_rounding_rules",
        "SELECT 2.5::int, 3.5::int, (-2.5)::int, 2.5::numeric(2,0), 0.125::numeric(4,2), 1e3::int, "
        "1.23e-2::numeric, 2.5::float8::int, 3.5::real::int",
    ),
    (
        "cast_float_special_values",
        "SELECT 0.1::float8 + 0.2::float8, 1 / 3::float8, 1e300::float8 * 10, 'NaN'::float8::text, '-Infinity'::float8, "
        "'infinity'::numeric, 'nan'::real = 'NaN'::real",
    ),
    (
        "cast_trimmed_strings",
        "SELECT '  42  '::int, ' 3.5 '::numeric, 'TRUE'::boolean, '0'::bool, ' 2024-01-01 '::date",
    ),
    (
        "cast_typmod_on_mart_columns",
        "SELECT DISTINCT location::varchar(5), account_type::char(3) FROM marts.dim_customers ORDER BY 1, 2",
    ),
    (
        "cast_to_text_renderings",
        """SELECT (date '2024-01-01')::text, (interval '90 minutes')::text, (1.50)::text, true::text, """
        """('{"a":1}'::jsonb)::text, (ARRAY[1,2])::text, (ROW(1, 'a'))::text""",
    ),
    (
        "pg_typeof_forms",
        "SELECT pg_typeof(1), pg_typeof(1.0), pg_typeof('a'::text), pg_typeof(now()), pg_typeof(ARRAY[1]), "
        "pg_typeof(1::smallint + 1)",
    ),
    (
        "cast_interval_numbers",
        "SELECT extract(epoch FROM interval '1 day')::bigint, (interval '3 hours')::time, time '10:00'::interval, "
        "(interval '2 days')::text",
    ),
    (
        "cast_integer_limits",
        "SELECT 32767::smallint, (-2147483648)::int4, 9223372036854775807::bigint, 2147483648::int8, "
        "2147483648, 9223372036854775808",
    ),
    (
        "cast_function_style",
        "SELECT int4(3.7), float8(2), date(timestamp '2024-01-01 10:00'), text(123), bool('t'), int8(7), "
        '"numeric"(5), float4(1.25)',
    ),
    (
        "cast_bit_strings",
        "SELECT B'1010'::int, 5::bit(4), B'1100' & B'1010', B'1100' | B'0011', B'101'::varbit, "
        "get_bit(B'1010', 0), length(B'10101')",
    ),
    (
        "cast_row_and_record",
        "SELECT ROW(1, 'a'), (1, 2.5), ROW(1, NULL)::text, ROW()",
    ),
    (
        "cast_unknown_literals_in_set_op",
        "SELECT '1' AS v UNION ALL SELECT '2' ORDER BY v",
    ),
    # --- math --------------------------------------------------------------------------------
    (
        "math_operators",
        "SELECT 2 ^ 10, |/ 25, ||/ 27, @ -5, 17 % 5, 5 # 3, 12 & 10, 12 | 3, 1 << 4, 256 >> 2, ~ 5",
    ),
    (
        "math_operators_numeric",
        "SELECT |/ 2.0, ||/ 8.0, @ -2.5, 2.0 ^ 3, 2 ^ 0.5, 10.5 % 3",
    ),
    (
        "math_precedence",
        "SELECT 2 + 3 * 4, (2 + 3) * 4, -2 ^ 2, 2 ^ 3 ^ 2, 7 / 2, 7.0 / 2, 7 / 2.0, -7 / 2, -7 % 3, "
        "- (2 + 3), 1 - -1, 2 * -3",
    ),
    (
        "math_functions_basic",
        "SELECT power(2, 8), sqrt(2), cbrt(27), abs(-3.5), mod(17, 5), div(17, 5), exp(1), ln(10), log(100), "
        "log10(1000), log(2, 64), pi(), pow(3, 2)",
    ),
    (
        "math_rounding",
        "SELECT round(2.567), round(2.567, 2), round(-2.5), round(2.5::float8), round(1234.5678, -2), trunc(2.567), "
        "trunc(2.567, 1), ceil(2.1), ceiling(-2.1), floor(-2.1), sign(-4), sign(0.0), round(3.5::real)",
    ),
    (
        "math_trigonometry",
        "SELECT sin(pi() / 6), cos(0), tan(pi() / 4), asin(1), acos(0), atan(1), atan2(1, 1), degrees(pi()), "
        "radians(180), sind(30), cosd(60), cot(1), tand(45)",
    ),
    ("math_hyperbolic", "SELECT sinh(1), cosh(0), tanh(0.5), asinh(1), acosh(2), atanh(0.5)"),
    (
        "math_width_bucket_literals",
        "SELECT width_bucket(5.35, 0.024, 10.06, 5), width_bucket(42, ARRAY[0, 18, 25, 35, 45, 55, 65]), "
        "width_bucket(-1, 0, 10, 5), width_bucket(11.0::float8, 0, 10, 5)",
    ),
    (
        "math_width_bucket_ages",
        "SELECT width_bucket(age, 18, 78, 6) AS bucket, min(age), max(age), count(*) "
        "FROM marts.dim_customers GROUP BY 1 ORDER BY 1",
    ),
    (
        "math_gcd_lcm_factorial",
        "SELECT gcd(1071, 462), lcm(4, 6), factorial(10), gcd(12::bigint, 18), lcm(3.0, 4.5), factorial(0)",
    ),
    (
        "math_numeric_precision",
        "SELECT 1::numeric / 3, 10::numeric(10,4) / 3, 1 / 3.0, 2::numeric ^ 0.5, sqrt(2::numeric), "
        "exp(1::numeric), ln(2::numeric), 1.0 / 7 * 7",
    ),
    (
        "math_scale_functions",
        "SELECT scale(12.345), min_scale(12.3400), trim_scale(12.3400), round(12.345, 1), 12.3400 = 12.34",
    ),
    (
        "math_bigint_arithmetic",
        "SELECT 2147483647::bigint + 1, 9::int8 * 1000000000000, 2^62::numeric, (2::bigint ^ 40)::bigint",
    ),
    (
        "math_bitwise_on_ages",
        "SELECT customer_id, age, age & 7, age | 1, age # 15, age >> 1, age << 1, ~age "
        "FROM marts.dim_customers ORDER BY customer_id LIMIT 5",
    ),
    (
        "math_churn_ratio_types",
        "SELECT month, account_type, round(100.0 * sum(customers_churned) / nullif(sum(customers_at_risk), 0), 2) "
        "AS churn_pct, sum(customers_churned)::float / sum(customers_at_risk) "
        "FROM marts.fct_customer_churn_monthly GROUP BY month, account_type ORDER BY month, account_type",
    ),
    ("math_random_bounds", "SELECT random() < 1.0, random(), floor(random() * 10)::int"),
    (
        "math_random_order",
        "SELECT customer_id, account_type FROM marts.dim_customers ORDER BY random() LIMIT 3",
    ),
    (
        "math_greatest_least",
        "SELECT greatest(1, 5, 3), least(2.5, 1.5, 3), greatest('apple', 'banana'), "
        "least(date '2024-01-01', date '2023-12-31'), greatest(1, NULL, 3), least(NULL::int, NULL)",
    ),
    (
        "math_numeric_literal_forms",
        "SELECT 1e3, 1.5e-3, 2E+2, .5, 5., 0.0, -0.0, 007",
    ),
    (
        "math_numeric_special",
        "SELECT 'NaN'::numeric::text, 'NaN'::numeric = 'NaN'::numeric, 1 / 'Infinity'::float8, "
        "'Infinity'::numeric > 1e100, 'NaN'::float8 > 1, 'Infinity'::float8 + 1",
    ),
    (
        "math_division_forms",
        "SELECT 7 / 2, 7 % 2, -7 / 2, div(-7, 2), mod(-7, 2), 7::numeric / 2, 7::float8 / 2, 7 / 2::real",
    ),
    (
        "math_share_of_customers",
        "SELECT account_type, count(*), round(100.0 * count(*) / sum(count(*)) OVER (), 2) "
        "FROM marts.dim_customers GROUP BY account_type ORDER BY account_type",
    ),
    (
        "math_log_revenue_by_location",
        "SELECT location, round(ln(sum(lifetime_revenue) + 1), 4), round(log(sum(lifetime_revenue) + 1), 4), "
        "round(sqrt(sum(lifetime_revenue)), 2) FROM marts.dim_customers GROUP BY location ORDER BY location",
    ),
    (
        "math_comparison_operators",
        "SELECT 1 < 2 AND 2 < 3, NOT 1 = 2, 1 <> 2, 1 != 2, 3 >= 3, 2 <= 1, 'a' < 'b', NOT (true OR false)",
    ),
    (
        "math_abs_arpu_gap",
        "SELECT month, account_type, service_type, abs(arpu - arpu_paying) "
        "FROM marts.fct_arpu_monthly WHERE account_type = 'Enterprise' AND arpu_paying IS NOT NULL "
        "ORDER BY 4 DESC, month, service_type LIMIT 10",
    ),
    (
        "math_mixed_type_arithmetic",
        "SELECT 1 + 1.5, 2 * 2.5::real, 1::smallint + 1::bigint, 3 / 2::numeric, 10 - 0.5::float4, "
        "(5 * interval '1 minute')",
    ),
    # --- strings -----------------------------------------------------------------------------
    (
        "string_concat_operators",
        "SELECT 'tele' || 'com', 'n' || 1, 1 || 'n', concat('a', NULL, 'b', 2), concat_ws('-', 'a', NULL, 'b', 3), "
        "'x' || NULL, 'date ' || date '2024-01-01'",
    ),
    (
        "string_segment_labels",
        "SELECT account_type || ' / ' || location AS segment, count(*) FROM marts.dim_customers "
        "GROUP BY 1 ORDER BY 1",
    ),
    (
        "string_format_function",
        "SELECT format('%I.%I', 'marts', 'Dim Customers'), format('%L', 'O''Reilly'), format('%L', NULL), "
        "format('%-10s|%5s|', 'left', 'right'), format('%I', 'plain_name'), format('100%%')",
    ),
    (
        "string_left_right_length",
        "SELECT left('telecom', 4), right('telecom', 3), left('telecom', -2), length('héllo'), "
        "char_length('héllo'), character_length('abc'), octet_length('héllo'), bit_length('abc')",
    ),
    (
        "string_case_functions",
        "SELECT lower('TeleCom'), upper('telecom'), initcap('north-east region'), upper('é'), lower('ÀÉ')",
    ),
    (
        "string_case_on_locations",
        "SELECT DISTINCT location, lower(location), upper(location), initcap(lower(location)) "
        "FROM marts.dim_customers ORDER BY 1",
    ),
    (
        "string_padding",
        "SELECT lpad('42', 6, '0'), rpad('ab', 5, '*'), lpad('toolong', 3), rpad('x', 3), lpad('', 2, 'ab')",
    ),
    (
        "string_trim_forms",
        "SELECT trim('  x  '), trim(both 'x' from 'xxhixx'), trim(leading 'x' from 'xxhixx'), "
        "trim(trailing 'x' from 'xxhixx'), trim(from '  y  '), trim(both from '  z  '), btrim('__a__', '_'), "
        "trim(leading from '  w')",
    ),
    (
        "string_ltrim_rtrim",
        "SELECT ltrim('  left'), rtrim('right  '), ltrim('zzzab', 'z'), rtrim('abyyy', 'y'), btrim('  both  '), "
        "trim(' ' from ' s ')",
    ),
    (
        "string_substring_forms",
        "SELECT substring('telecom' from 2 for 3), substring('telecom', 2, 3), substring('telecom' from 3), "
        "substring('telecom' for 4), substr('telecom', 5), substr('telecom', 2, 2), "
        "substring('order-1234' from '[0-9]+'), substring('abc.def' similar '%#\".#\"%' escape '#')",
    ),
    (
        "string_substring_on_locations",
        "SELECT DISTINCT substring(location from 1 for 1) AS initial, "
        "count(*) OVER (PARTITION BY substring(location from 1 for 1)) FROM marts.dim_customers ORDER BY 1",
    ),
    (
        "string_position_forms",
        "SELECT position('com' in 'telecom'), strpos('telecom', 'le'), position('z' IN 'abc'), "
        "POSITION('-' IN 'North-East')",
    ),
    (
        "string_overlay_forms",
        r"SELECT overlay('Txxxxas' placing 'hom' from 2 for 4), overlay('telecom' placing 'XX' from 3), "
        r"overlay('\x616263'::bytea placing '\x5a'::bytea from 2 for 1)",
    ),
    (
        "string_replace_translate_reverse",
        "SELECT replace('North-East', '-', ' '), translate('12345', '143', 'ax'), reverse('telecom'), "
        "repeat('ab', 3), repeat('=', 0)",
    ),
    (
        "string_split_part",
        "SELECT split_part('a,b,c', ',', 2), split_part('a,b,c', ',', -1), split_part('a,b,c', ',', 5)",
    ),
    (
        "string_split_part_locations",
        "SELECT DISTINCT location, split_part(location, '-', 1), split_part(location, '-', 2) "
        "FROM marts.dim_customers ORDER BY 1",
    ),
    (
        "string_starts_with_forms",
        "SELECT starts_with('telecom', 'tele'), 'telecom' ^@ 'tel', 'abc' ^@ 'b', starts_with('', '')",
    ),
    (
        "string_starts_with_mart",
        "SELECT location, count(*) FROM marts.dim_customers WHERE location ^@ 'South' "
        "GROUP BY location ORDER BY location",
    ),
    (
        "string_hash_functions",
        "SELECT md5('telcopulse'), md5(''), sha256('abc'::bytea), encode(sha224('abc'), 'hex')",
    ),
    (
        "string_md5_of_ids",
        "SELECT customer_id, md5(customer_id::text), left(md5(customer_id::text), 8) "
        "FROM marts.dim_customers ORDER BY customer_id LIMIT 5",
    ),
    (
        "string_encode_decode",
        r"SELECT encode('hello'::bytea, 'base64'), decode('aGVsbG8=', 'base64'), encode('\x0102ff'::bytea, 'hex'), "
        r"decode('414243', 'hex'), encode(convert_to('é', 'UTF8'), 'escape'), convert_from('\x68c3a9'::bytea, 'UTF8')",
    ),
    ("string_chr_ascii", "SELECT chr(65), ascii('A'), chr(8364), ascii('€'), ascii('')"),
    (
        "string_quote_functions",
        "SELECT quote_ident('Dim Customers'), quote_ident('plain'), quote_literal('O''Reilly'), quote_literal(42), "
        "quote_nullable(NULL), quote_nullable('x'), quote_ident('select')",
    ),
    ("string_to_hex", "SELECT to_hex(255), to_hex(4096::bigint), to_hex(-1), to_hex(0)"),
    (
        "string_array_conversion",
        "SELECT string_to_array('a,b,,c', ','), string_to_array('a,b,,c', ',', ''), "
        "array_to_string(ARRAY['x', NULL, 'z'], '|'), array_to_string(ARRAY['x', NULL, 'z'], '|', '*'), "
        "string_to_array('abc', NULL)",
    ),
    (
        "string_to_table_ordinality",
        "SELECT t, n FROM string_to_table('voice,sms,data', ',') WITH ORDINALITY AS s(t, n) ORDER BY n",
    ),
    (
        "string_regexp_replace",
        r"SELECT regexp_replace('North-East', '[-\s]+', '_', 'g'), regexp_replace('aaa', 'a', 'b'), "
        r"regexp_replace('2024-05-17', '(\d+)-(\d+)-(\d+)', '\3/\2/\1'), regexp_replace('Hello', 'L', 'x', 'gi')",
    ),
    (
        "string_regexp_match",
        r"SELECT regexp_match('order-1234-x', '(\d+)'), (regexp_match('k=v', '(\w+)=(\w+)'))[2], "
        r"regexp_match('abc', 'z'), regexp_match('ABC', 'b', 'i')",
    ),
    (
        "string_regexp_matches_global",
        r"SELECT regexp_matches('a1b22c333', '\d+', 'g') ORDER BY 1",
    ),
    (
        "string_regexp_matches_ordinality",
        r"SELECT m, n FROM regexp_matches('a1b22c333', '([a-z])(\d+)', 'g') WITH ORDINALITY AS r(m, n) ORDER BY n",
    ),
    (
        "string_regexp_split",
        r"SELECT regexp_split_to_array('a1b22c333d', '\d+'), regexp_split_to_array('one  two', '\s+'), "
        r"regexp_count('a1b22c333', '\d'), regexp_instr('telecom', 'com'), regexp_like('Telecom', '^tel', 'i')",
    ),
    (
        "string_regexp_split_to_table",
        "SELECT part FROM regexp_split_to_table('North-East,South-West', '[,-]') AS part ORDER BY part",
    ),
    (
        "string_regex_operators",
        r"SELECT 'telecom' ~ '^tel', 'TELECOM' ~* 'com$', 'abc' !~ 'z', 'ABC' !~* 'b', 'a.c' ~ 'a\.c'",
    ),
    (
        "string_regex_on_locations",
        "SELECT location, count(*) FROM marts.dim_customers WHERE location ~ '^(North|South)-' "
        "GROUP BY location ORDER BY location",
    ),
    (
        "string_like_forms",
        r"SELECT 'telecom' LIKE 'tel%', 'Telecom' ILIKE 'tel%', 'telecom' NOT LIKE '%x%', 'abc' SIMILAR TO '(a|b)%', "
        r"'a_c' LIKE 'a\_c', '50%' LIKE '50!%' ESCAPE '!', 'tele' ~~ 't_le', 'TELE' ~~* 't%', 'x' !~~ 'y', "
        r"'X' !~~* 'y', 'abc' NOT SIMILAR TO 'b%', 'abc' NOT ILIKE 'A%'",
    ),
    (
        "string_like_on_locations",
        "SELECT DISTINCT location FROM marts.dim_customers WHERE location LIKE '%East' OR location ILIKE 'cent%' "
        "ORDER BY location",
    ),
    (
        "string_similar_to_plans",
        "SELECT DISTINCT account_type FROM marts.dim_customers WHERE account_type SIMILAR TO '(Basic|Premium)' "
        "ORDER BY 1",
    ),
    (
        "string_collate_c_order",
        'SELECT location FROM (SELECT DISTINCT location FROM marts.dim_customers) d ORDER BY location COLLATE "C" DESC',
    ),
    (
        "string_collate_comparisons",
        "SELECT 'a' < 'B' COLLATE \"C\", 'a' COLLATE \"C\" < 'B', 'Z' > 'a' COLLATE \"C\", 'abc' COLLATE \"default\"",
    ),
    (
        "string_lengths_of_locations",
        "SELECT DISTINCT location, length(location), octet_length(location), char_length(location) "
        "FROM marts.dim_customers ORDER BY length(location) DESC, location",
    ),
    (
        "string_unicode_normalization",
        r"SELECT normalize(U&'\0065\0301', NFC) = U&'\00E9', U&'\00E9' IS NFC NORMALIZED, "
        r"U&'\0065\0301' IS NOT NFC NORMALIZED, length(normalize(U&'\00E9', NFD))",
    ),
    (
        "string_numbered_locations",
        "SELECT lpad(row_number() OVER (ORDER BY location)::text, 3, '0'), location "
        "FROM (SELECT DISTINCT location FROM marts.dim_customers) l ORDER BY 1",
    ),
    (
        "string_concat_mixed_types",
        "SELECT concat(account_type, ' ', age_band, ' ', count(*)), concat_ws(' | ', account_type, age_band) "
        "FROM marts.dim_customers GROUP BY account_type, age_band ORDER BY 1",
    ),
    (
        "string_text_bar_chart",
        "SELECT account_type, repeat('#', (count(*) / 20)::int) AS bar FROM marts.dim_customers "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "string_comparisons",
        "SELECT 'abc' < 'abd', 'abc' || 1.5, 'x' = 'x'::char(3), 'a' || 'b' = 'ab', '' IS NULL, 'A' = 'a'",
    ),
    # --- string literal forms -------------------------------------------------------------
    ("literal_doubled_quotes", "SELECT 'O''Reilly', 'it''s', '''quoted''', ''''"),
    (
        "literal_escape_strings",
        r"SELECT E'line1\nline2', E'tab\there', E'quote\'s', E'back\\slash', e'\x41\102\u00e9', E'\\d+'",
    ),
    (
        "literal_dollar_quoting",
        r"""SELECT $$it's a "test" with \ backslash$$, $tag$nested $$ dollars$$ and 'quotes'$tag$, $q$$q$, $$$$ = ''""",
    ),
    (
        "literal_unicode_escapes",
        r"SELECT U&'d\0061t\+000061', U&'\0041\0042', U&'d!0061t' UESCAPE '!', u&'\00e9t\00e9'",
    ),
    (
        "literal_backslashes_in_standard_strings",
        r"SELECT 'a\b', 'C:\path\to', length('a\b'), '\n', '\' AS backslash, '\\'",
    ),
    ("literal_adjacent_continuation", "SELECT 'tele'\n'com' AS joined, 'a'\n    'b'\n    'c'"),
    ("literal_quote_like_text", """SELECT '"not an identifier"', '$$', '$tag$', 'E''x''', 'U&'"""),
    ("literal_unicode_text", "SELECT 'emoji 📶', 'naïve café', 'Ünïcödé' || '✓', length('📶')"),
    (
        "literal_null_forms",
        "SELECT NULL, NULL::int, CAST(NULL AS text), NULL IS NULL, NULL = NULL, NULL::jsonb IS NULL",
    ),
    ("literal_booleans", "SELECT TRUE, FALSE, true AND NULL, false OR NULL, NOT NULL::boolean, NOT false"),
    (
        "literal_numbers",
        "SELECT 42, -7, 3.14, 1e10, 4.2e-3, 9223372036854775807, 9223372036854775808, 2147483647, 2147483648",
    ),
    ("literal_lowercase_prefixes", r"SELECT e'\t' = E'\t', u&'\0041', b'101', e'\''"),
    (
        "literal_dollar_quoted_filter",
        "SELECT count(*) FROM marts.dim_customers WHERE account_type = $$Premium$$ AND location <> $x$East$x$",
    ),
    (
        "literal_escape_string_separator",
        r"SELECT DISTINCT concat_ws(E'\t', account_type, location) FROM marts.dim_customers ORDER BY 1",
    ),
    (
        "literal_multiline_query",
        """SELECT
    account_type,
    count(*)          AS customers,
    sum(lifetime_revenue)
FROM marts.dim_customers
WHERE NOT is_churned
GROUP BY account_type
ORDER BY account_type""",
    ),
    (
        "literal_string_with_newline_inside",
        "SELECT 'first line\nsecond line', length('a\nb')",
    ),
    # --- JSON / JSONB ----------------------------------------------------------------------
    (
        "json_arrow_operators",
        """SELECT '{"a": {"b": [10, 20]}}'::jsonb -> 'a', '{"a": {"b": [10, 20]}}'::jsonb ->> 'a', """
        """'{"a": {"b": [10, 20]}}'::jsonb #> '{a,b}', '{"a": {"b": [10, 20]}}'::jsonb #>> '{a,b,1}', """
        """'[1, 2, 3]'::json -> 2, '[1, 2, 3]'::jsonb ->> -1, '{"a": 1}'::json ->> 'a'""",
    ),
    (
        "json_containment",
        """SELECT '{"a": 1, "b": 2}'::jsonb @> '{"a": 1}', '{"a": 1}'::jsonb <@ '{"a": 1, "b": 2}', """
        """'["x", "y"]'::jsonb @> '["y"]', '{"a": [1, 2]}'::jsonb @> '{"a": [2]}'""",
    ),
    (
        "json_minus_and_concat",
        """SELECT '{"a": 1, "b": 2}'::jsonb - 'a', '[1, 2, 3]'::jsonb - 0, """
        """'{"a": 1, "b": {"c": 3}}'::jsonb #- '{b,c}', '{"a": 1}'::jsonb || '{"b": 2}', """
        """'[1]'::jsonb || '[2, 3]', '{"a": 1, "b": 2}'::jsonb - ARRAY['a', 'b']""",
    ),
    (
        "json_builders",
        "SELECT jsonb_build_object('plan', 'Premium', 'customers', 282, 'active', true), "
        "json_build_array(1, 'two', NULL, 3.5), json_build_object('k', ARRAY[1, 2]), jsonb_build_array(), "
        "json_object('{a,1,b,2}'), jsonb_object(ARRAY['x', 'y'], ARRAY['1', '2'])",
    ),
    (
        "json_build_object_per_plan",
        "SELECT account_type, jsonb_build_object('customers', count(*), 'churned', count(*) FILTER (WHERE is_churned), "
        "'avg_age', round(avg(age), 1)) FROM marts.dim_customers GROUP BY account_type ORDER BY account_type",
    ),
    (
        "json_agg_ordered",
        "SELECT location, jsonb_agg(account_type ORDER BY account_type), json_agg(DISTINCT account_type) "
        "FROM (SELECT DISTINCT location, account_type FROM marts.dim_customers) s GROUP BY location ORDER BY location",
    ),
    (
        "json_object_agg_forms",
        "SELECT json_object_agg(account_type, n ORDER BY account_type), jsonb_object_agg(account_type, n) "
        "FROM (SELECT account_type, count(*) AS n FROM marts.dim_customers GROUP BY account_type) t",
    ),
    (
        "json_each_forms",
        """SELECT key, value FROM jsonb_each('{"voice": 10, "sms": 2, "data": 30}') ORDER BY key""",
    ),
    (
        "json_each_text_star",
        """SELECT * FROM json_each_text('{"a": "x", "b": null, "c": 3}') ORDER BY 1""",
    ),
    (
        "json_array_elements_ordinality",
        """SELECT e, ord, e ->> 'id' FROM jsonb_array_elements('[{"id": 1}, {"id": 2}, {"id": 3}]'::jsonb) """
        """WITH ORDINALITY AS t(e, ord) ORDER BY ord""",
    ),
    (
        "json_array_elements_text_unaliased",
        """SELECT jsonb_array_elements_text('["b", "a", "c"]') ORDER BY 1""",
    ),
    (
        "json_path_query_set",
        """SELECT jsonb_path_query('{"items": [{"qty": 2}, {"qty": 5}]}', '$.items[*].qty') ORDER BY 1""",
    ),
    (
        "json_path_functions",
        """SELECT jsonb_path_exists('{"a": [1, 2]}', '$.a[1]'), jsonb_path_query_array('{"a": [1, 2, 3]}', '$.a[0 to 1]'), """
        """jsonb_path_query_first('{"a": {"b": 7}}', '$.a.b'), '{"a": [1, 2]}'::jsonb @@ '$.a[0] == 1', """
        """jsonb_path_match('{"n": 3}', '$.n > 2'), jsonb_path_query_array('[1, 2]', 'strict $[*]')""",
    ),
    (
        "json_set_insert",
        """SELECT jsonb_set('{"a": 1, "b": {"c": 2}}', '{b,c}', '3'), jsonb_set('[1, 2]', '{5}', '"x"', true), """
        """jsonb_insert('{"a": [1, 3]}', '{a,1}', '2'), jsonb_set_lax('{"a": 1}', '{a}', NULL, true, 'delete_key')""",
    ),
    (
        "json_to_jsonb_of_rows",
        "SELECT c.customer_id, to_jsonb(c) - 'customer_id' FROM "
        "(SELECT customer_id, account_type, location, age FROM marts.dim_customers ORDER BY customer_id LIMIT 3) c "
        "ORDER BY c.customer_id",
    ),
    (
        "json_row_to_json_of_subquery",
        "SELECT row_to_json(t) FROM (SELECT month, account_type, churn_rate FROM marts.fct_customer_churn_monthly "
        "WHERE location = 'Central' ORDER BY month DESC, account_type LIMIT 5) t ORDER BY t.month, t.account_type",
    ),
    (
        "json_conversions_of_values",
        "SELECT row_to_json(ROW(1, 'a', true)), to_json('text'::text), to_jsonb(3.50), to_jsonb(ARRAY[1, 2]), "
        "to_json(date '2024-01-01'), array_to_json(ARRAY[[1, 2], [3, 4]]), to_jsonb(timestamptz '2024-01-01 00:00+00')",
    ),
    (
        "json_typeof_strip_pretty",
        """SELECT jsonb_typeof('{"a": 1}'), jsonb_typeof('[]'), json_typeof('"s"'), jsonb_typeof('null'), """
        """jsonb_strip_nulls('{"a": 1, "b": null, "c": {"d": null}}'), jsonb_pretty('{"a": [1, {"b": 2}]}'), """
        """jsonb_array_length('[1, 2, 3]'), json_array_length('[]')""",
    ),
    ("json_object_keys_unaliased", """SELECT jsonb_object_keys('{"b": 1, "a": 2}') ORDER BY 1"""),
    (
        "json_to_record_column_list",
        """SELECT * FROM jsonb_to_record('{"a": 1, "b": "x", "c": [1, 2]}') AS r(a int, b text, c int[])""",
    ),
    (
        "json_to_recordset_column_list",
        """SELECT r.plan, r.fee FROM json_to_recordset('[{"plan": "Basic", "fee": 19.99}, {"plan": "Premium", "fee": 49.99}]') """
        """AS r(plan text, fee numeric) ORDER BY r.fee""",
    ),
    (
        "json_object_agg_revenue_by_service",
        "SELECT month, jsonb_object_agg(service_type, revenue ORDER BY service_type) FROM marts.fct_arpu_monthly "
        "WHERE account_type = 'Premium' GROUP BY month ORDER BY month",
    ),
    (
        "json_subscripting",
        """SELECT ('{"a": {"b": 5}}'::jsonb)['a']['b'], ('[10, 20, 30]'::jsonb)[1], ('{"k": "v"}'::jsonb)['k']""",
    ),
    (
        "json_key_exists_functions",
        """SELECT jsonb_exists('{"a": 1}', 'a'), jsonb_exists_any('{"a": 1}', ARRAY['b', 'a']), """
        """jsonb_exists_all('{"a": 1}', ARRAY['a', 'b'])""",
    ),
    (
        "json_filter_documents",
        "SELECT count(*) FROM (SELECT jsonb_build_object('plan', account_type, 'churned', is_churned) AS doc "
        """FROM marts.dim_customers) d WHERE doc @> '{"churned": true}' AND doc ->> 'plan' = 'Premium'""",
    ),
    (
        "json_keys_with_spaces",
        """SELECT '{"key with space": 1, "Mixed": 2}'::jsonb -> 'key with space', """
        """('{"Mixed": 2}'::jsonb ->> 'Mixed')::int + 1""",
    ),
    (
        "json_scalar_casts",
        """SELECT '5'::jsonb::int, ('{"n": 2.5}'::jsonb -> 'n')::numeric, ('{"ok": true}'::jsonb -> 'ok')::boolean, """
        """('"s"'::jsonb #>> '{}')""",
    ),
    # --- arrays ------------------------------------------------------------------------------
    (
        "array_constructors",
        "SELECT ARRAY[1, 2, 3], ARRAY['a', 'b'], ARRAY[[1, 2], [3, 4]], ARRAY[]::int[], '{}'::text[], ARRAY[1.5, 2], "
        "ARRAY[NULL, 1]",
    ),
    (
        "array_from_subquery",
        "SELECT ARRAY(SELECT DISTINCT location FROM marts.dim_customers ORDER BY location), "
        "array(SELECT g FROM generate_series(1, 5) AS g ORDER BY g DESC)",
    ),
    ("array_unnest_aliased", "SELECT unnest(ARRAY[3, 1, 2]) AS v ORDER BY v"),
    (
        "array_unnest_ordinality",
        "SELECT u.val, u.idx FROM unnest(ARRAY['voice', 'sms', 'data']) WITH ORDINALITY AS u(val, idx) ORDER BY u.idx",
    ),
    (
        "array_unnest_multiple",
        "SELECT * FROM unnest(ARRAY[1, 2, 3], ARRAY['a', 'b']) AS t(n, s) ORDER BY n",
    ),
    (
        "array_agg_distinct_ordered",
        "SELECT account_type, array_agg(DISTINCT location ORDER BY location) FROM marts.dim_customers "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "array_functions",
        "SELECT array_length(ARRAY[1, 2, 3], 1), cardinality(ARRAY[[1, 2], [3, 4]]), array_position(ARRAY['a', 'b', 'c'], 'b'), "
        "array_positions(ARRAY[1, 2, 1], 1), array_remove(ARRAY[1, 2, 1, 3], 1), array_replace(ARRAY[1, 2, 1], 1, 9), "
        "array_cat(ARRAY[1, 2], ARRAY[3]), array_append(ARRAY[1], 2), array_prepend(0, ARRAY[1]), "
        "array_ndims(ARRAY[[1]]), array_dims(ARRAY[[1, 2, 3]]), array_upper(ARRAY[5, 6], 1), array_lower(ARRAY[5, 6], 1)",
    ),
    (
        "array_operators",
        "SELECT ARRAY[1, 2, 3] @> ARRAY[2], ARRAY[1] <@ ARRAY[1, 2], ARRAY[1, 2] && ARRAY[2, 3], ARRAY[1, 2] || ARRAY[3], "
        "ARRAY[1, 2] || 3, 0 || ARRAY[1], ARRAY[1, 2] = ARRAY[1, 2], ARRAY[1, 2] < ARRAY[1, 3]",
    ),
    (
        "array_subscripts_and_slices",
        "SELECT (ARRAY[10, 20, 30])[1], (ARRAY[10, 20, 30])[2:3], (ARRAY[10, 20, 30])[:2], "
        "(ARRAY[[1, 2], [3, 4]])[2][1], ('{a,b,c}'::text[])[2:], (ARRAY[1, 2])[5]",
    ),
    (
        "array_any_all",
        "SELECT 2 = ANY(ARRAY[1, 2, 3]), 5 <> ALL(ARRAY[1, 2, 3]), 'b' = ANY('{a,b}'::text[]), 3 > ALL(ARRAY[1, 2]), "
        "1 = SOME(ARRAY[1]), NULL = ANY(ARRAY[1]), 'x' LIKE ANY(ARRAY['%x', 'y'])",
    ),
    (
        "array_any_all_on_customers",
        "SELECT location, count(*) FROM marts.dim_customers WHERE account_type = ANY(ARRAY['Premium', 'Enterprise']) "
        "AND location <> ALL('{Central,East}') GROUP BY location ORDER BY location",
    ),
    (
        "array_any_of_subquery_array",
        "SELECT count(*) FROM marts.customer_features "
        "WHERE customer_id = ANY(ARRAY(SELECT customer_id FROM marts.dim_customers WHERE is_churned))",
    ),
    (
        "array_lateral_unnest_thresholds",
        "SELECT c.account_type, x.threshold, count(*) FILTER (WHERE c.age >= x.threshold) "
        "FROM marts.dim_customers c CROSS JOIN LATERAL unnest(ARRAY[25, 45, 65]) AS x(threshold) "
        "GROUP BY c.account_type, x.threshold ORDER BY 1, 2",
    ),
    (
        "array_agg_top3_slice",
        "SELECT location, (array_agg(lifetime_revenue ORDER BY lifetime_revenue DESC, customer_id))[1:3] "
        "FROM marts.dim_customers GROUP BY location ORDER BY location",
    ),
    (
        "array_fill_trim",
        "SELECT array_fill(0, ARRAY[3]), array_fill('x'::text, ARRAY[2, 2]), trim_array(ARRAY[1, 2, 3, 4], 2), "
        "array_fill(1, ARRAY[2], ARRAY[0])",
    ),
    (
        "array_typed_elements",
        "SELECT ARRAY[1.10, 2.5]::numeric[], '{1.5,2.5}'::float8[], ARRAY[date '2024-01-01', date '2024-02-01'], "
        "ARRAY[interval '1 day'], ARRAY[true, NULL], ARRAY['{\"a\": 1}'::jsonb]",
    ),
    (
        "array_contains_segment",
        "SELECT count(*) FILTER (WHERE ARRAY[account_type, location] @> ARRAY['Premium']), "
        "count(*) FILTER (WHERE ARRAY[account_type, location] && ARRAY['North', 'South']) FROM marts.dim_customers",
    ),
    (
        "array_to_string_of_agg",
        "SELECT array_to_string(array_agg(DISTINCT age_band ORDER BY age_band), ', ') FROM marts.dim_customers",
    ),
    ("array_generate_subscripts", "SELECT generate_subscripts(ARRAY['a', 'b', 'c'], 1) AS i ORDER BY i"),
    (
        "array_agg_of_arrays",
        "SELECT array_agg(ARRAY[a, b] ORDER BY a) FROM (VALUES (1, 2), (3, 4)) AS v(a, b)",
    ),
    # --- aggregates ------------------------------------------------------------------------
    (
        "agg_basic_counts",
        "SELECT count(*), count(churn_date), count(DISTINCT location), sum(lifetime_revenue), avg(age), "
        "min(signup_date), max(signup_date), count(1) FROM marts.dim_customers",
    ),
    (
        "agg_by_plan",
        "SELECT account_type, count(*) AS customers, count(*) FILTER (WHERE is_churned) AS churned, "
        "round(avg(tenure_days), 1) AS avg_tenure, sum(lifetime_revenue) FROM marts.dim_customers "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "agg_string_agg_ordered",
        "SELECT account_type, string_agg(DISTINCT location, ', ' ORDER BY location), "
        "string_agg(DISTINCT age_band, '|' ORDER BY age_band DESC) FROM marts.dim_customers "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "agg_boolean",
        "SELECT location, bool_and(age >= 18), bool_or(is_churned), every(lifetime_revenue >= 0) "
        "FROM marts.dim_customers GROUP BY location ORDER BY location",
    ),
    (
        "agg_dispersion",
        "SELECT round(stddev(age), 4), round(stddev_samp(age), 4), round(stddev_pop(age), 4), round(variance(age), 4), "
        "round(var_samp(age), 4), round(var_pop(age), 4) FROM marts.dim_customers",
    ),
    (
        "agg_dispersion_unrounded",
        "SELECT account_type, stddev(tenure_days), variance(lifetime_revenue) FROM marts.dim_customers "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "agg_regression",
        "SELECT round(corr(avg_quality_score, poor_quality_share)::numeric, 6), "
        "round(covar_pop(age, tenure_days)::numeric, 4), round(covar_samp(age, tenure_days)::numeric, 4), "
        "round(regr_slope(total_revenue, active_months)::numeric, 4), "
        "round(regr_intercept(total_revenue, active_months)::numeric, 4), "
        "round(regr_r2(total_revenue, active_months)::numeric, 6), regr_count(total_revenue, active_months), "
        "round(regr_avgx(total_revenue, active_months)::numeric, 4), round(regr_sxx(total_revenue, active_months)::numeric, 2) "
        "FROM marts.customer_features",
    ),
    (
        "agg_corr_float",
        "SELECT corr(age, tenure_days), regr_avgy(tenure_days, age), regr_syy(age, age) FROM marts.customer_features",
    ),
    (
        "agg_ordered_set",
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY avg_quality_score), "
        "percentile_disc(0.9) WITHIN GROUP (ORDER BY avg_quality_score), "
        "percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY tenure_days), "
        "mode() WITHIN GROUP (ORDER BY location) FROM marts.customer_features",
    ),
    (
        "agg_quality_percentiles_by_location",
        "SELECT location, percentile_cont(0.1) WITHIN GROUP (ORDER BY avg_quality_score) AS p10, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY avg_quality_score), "
        "percentile_disc(0.95) WITHIN GROUP (ORDER BY avg_quality_score DESC) "
        "FROM marts.fct_network_quality_daily GROUP BY location ORDER BY location",
    ),
    (
        "agg_hypothetical_set",
        "SELECT rank(30) WITHIN GROUP (ORDER BY age), dense_rank(30) WITHIN GROUP (ORDER BY age), "
        "round(percent_rank(30) WITHIN GROUP (ORDER BY age)::numeric, 6), "
        "round(cume_dist(30) WITHIN GROUP (ORDER BY age)::numeric, 6) FROM marts.dim_customers",
    ),
    (
        "agg_filter_pivot_by_service",
        "SELECT month, sum(revenue) FILTER (WHERE service_type = 'voice') AS voice, "
        "sum(revenue) FILTER (WHERE service_type = 'data') AS data, "
        "sum(revenue) FILTER (WHERE service_type IN ('sms', 'subscription')) "
        "FROM marts.fct_arpu_monthly GROUP BY month ORDER BY month",
    ),
    (
        "agg_having",
        "SELECT location, count(*) FROM marts.dim_customers GROUP BY location HAVING count(*) > 80 "
        "ORDER BY count(*) DESC, location",
    ),
    (
        "agg_cumulative_over_window",
        "SELECT month, sum(sum(revenue)) OVER (ORDER BY month) AS cumulative, sum(revenue) "
        "FROM marts.fct_arpu_monthly GROUP BY month ORDER BY month",
    ),
    (
        "agg_count_distinct_forms",
        "SELECT count(DISTINCT (account_type, location)), count(DISTINCT account_type || location), "
        "count(DISTINCT gender) FILTER (WHERE age < 30), count(ALL age) FROM marts.dim_customers",
    ),
    (
        "agg_result_types",
        "SELECT avg(age), avg(age::float8), avg(lifetime_revenue), sum(age), sum(age::bigint), "
        "sum(tenure_days::numeric), max(customer_id::text), sum(age::real) FROM marts.dim_customers",
    ),
    ("agg_bitwise", "SELECT bit_and(age), bit_or(age), bit_xor(age) FROM marts.dim_customers"),
    (
        "agg_min_max_types",
        'SELECT min(location), max(location COLLATE "C"), min(churn_date), max(churned_at), '
        "min(is_churned::int), max(age_band) FROM marts.dim_customers",
    ),
    (
        "agg_group_by_ordinals",
        "SELECT gender, age_band, count(*) FROM marts.dim_customers GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "agg_over_no_rows",
        "SELECT count(*), sum(age), max(age), array_agg(age) FROM marts.dim_customers WHERE false",
    ),
    (
        "agg_group_by_expression",
        "SELECT date_trunc('year', signup_date), count(*) FROM marts.dim_customers "
        "GROUP BY date_trunc('year', signup_date) ORDER BY 1",
    ),
    # --- window functions ------------------------------------------------------------------
    (
        "window_ranking_functions",
        "SELECT location, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, location), "
        "rank() OVER (ORDER BY count(*) DESC), dense_rank() OVER (ORDER BY count(*) DESC), "
        "percent_rank() OVER (ORDER BY count(*)), cume_dist() OVER (ORDER BY count(*)), "
        "ntile(3) OVER (ORDER BY count(*) DESC, location) FROM marts.dim_customers GROUP BY location "
        "ORDER BY n DESC, location",
    ),
    (
        "window_lag_lead_named",
        "SELECT month, sum(revenue) AS revenue, lag(sum(revenue)) OVER w, lead(sum(revenue), 2) OVER w, "
        "lag(sum(revenue), 1, 0) OVER w, sum(revenue) - lag(sum(revenue)) OVER w AS mom_change "
        "FROM marts.fct_arpu_monthly GROUP BY month WINDOW w AS (ORDER BY month) ORDER BY month",
    ),
    (
        "window_first_last_nth",
        "SELECT month, account_type, revenue, first_value(revenue) OVER (PARTITION BY account_type ORDER BY month), "
        "last_value(revenue) OVER (PARTITION BY account_type ORDER BY month "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), "
        "nth_value(revenue, 2) OVER (PARTITION BY account_type ORDER BY month "
        "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) "
        "FROM (SELECT month, account_type, sum(revenue) AS revenue FROM marts.fct_arpu_monthly GROUP BY 1, 2) m "
        "ORDER BY account_type, month",
    ),
    (
        "window_moving_average_rows",
        "SELECT event_date, sum(event_count), avg(sum(event_count)) OVER (ORDER BY event_date "
        "ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) FROM marts.fct_network_quality_daily "
        "WHERE event_date > (SELECT max(event_date) - 30 FROM marts.fct_network_quality_daily) "
        "GROUP BY event_date ORDER BY event_date",
    ),
    (
        "window_range_interval_offset",
        "SELECT * FROM (SELECT event_date, daily, sum(daily) OVER (ORDER BY event_date "
        "RANGE BETWEEN interval '6 days' PRECEDING AND CURRENT ROW) AS rolling_7d "
        "FROM (SELECT event_date, sum(event_count) AS daily FROM marts.fct_network_quality_daily GROUP BY event_date) d) r "
        "WHERE event_date > (SELECT max(event_date) - 20 FROM marts.fct_network_quality_daily) ORDER BY event_date",
    ),
    (
        "window_groups_and_exclusion",
        "SELECT v, sum(v) OVER (ORDER BY v GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW), "
        "sum(v) OVER (ORDER BY v ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES), "
        "count(*) OVER (ORDER BY v RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE GROUP), "
        "sum(v) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING EXCLUDE NO OTHERS) "
        "FROM (VALUES (1), (2), (2), (3), (5)) AS t(v) ORDER BY 1, 2, 3, 4, 5",
    ),
    (
        "window_named_and_referenced",
        "SELECT account_type, location, n, sum(n) OVER w AS running, rank() OVER (w), "
        "avg(n) OVER (PARTITION BY account_type) FROM "
        "(SELECT account_type, location, count(*) AS n FROM marts.dim_customers GROUP BY 1, 2) s "
        "WINDOW w AS (PARTITION BY account_type ORDER BY n DESC, location) ORDER BY account_type, n DESC, location",
    ),
    (
        "window_inherited_definitions",
        "SELECT month, account_type, churned, sum(churned) OVER (ordered ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), "
        "max(churned) OVER base FROM (SELECT month, account_type, sum(customers_churned) AS churned "
        "FROM marts.fct_customer_churn_monthly GROUP BY 1, 2) s "
        "WINDOW base AS (PARTITION BY account_type), ordered AS (base ORDER BY month) ORDER BY account_type, month",
    ),
    (
        "window_top2_revenue_per_plan",
        "SELECT * FROM (SELECT customer_id, account_type, lifetime_revenue, row_number() OVER "
        "(PARTITION BY account_type ORDER BY lifetime_revenue DESC, customer_id) AS rn FROM marts.dim_customers) r "
        "WHERE rn <= 2 ORDER BY account_type, rn",
    ),
    (
        "window_revenue_quartiles",
        "SELECT quartile, count(*), min(total_revenue), max(total_revenue) FROM "
        "(SELECT total_revenue, ntile(4) OVER (ORDER BY total_revenue, customer_id) AS quartile "
        "FROM marts.customer_features) q GROUP BY quartile ORDER BY quartile",
    ),
    (
        "window_share_within_month",
        "SELECT month, service_type, revenue, round(revenue / nullif(sum(revenue) OVER (PARTITION BY month), 0), 4) "
        "FROM (SELECT month, service_type, sum(revenue) AS revenue FROM marts.fct_arpu_monthly GROUP BY 1, 2) s "
        "ORDER BY month, service_type",
    ),
    (
        "window_count_over_partition_distinct",
        "SELECT DISTINCT location, count(*) OVER (PARTITION BY location), count(*) OVER () "
        "FROM marts.dim_customers ORDER BY location",
    ),
    (
        "window_lag_lead_defaults_typed",
        "SELECT month, lag(month, 1, date '1900-01-01') OVER (ORDER BY month), "
        "lead(month::text, 1, 'none') OVER (ORDER BY month), lead(days_in_month, 3) OVER (ORDER BY month) "
        "FROM intermediate.int_months ORDER BY month",
    ),
    (
        "window_filtered_aggregate",
        "SELECT DISTINCT month, count(*) FILTER (WHERE is_churned_in_month) OVER (PARTITION BY month), "
        "sum(revenue) OVER (PARTITION BY month) FROM intermediate.int_customer_months ORDER BY month",
    ),
    (
        "window_year_over_year_lag12",
        "SELECT month, account_type, revenue, lag(revenue, 12) OVER (PARTITION BY account_type ORDER BY month) "
        "AS revenue_year_ago FROM (SELECT month, account_type, sum(revenue) AS revenue "
        "FROM marts.fct_arpu_monthly GROUP BY 1, 2) m ORDER BY account_type, month",
    ),
    (
        "window_frame_to_end",
        "SELECT month, sum(new_customers), sum(sum(new_customers)) OVER (ORDER BY month "
        "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM marts.fct_customer_churn_monthly "
        "GROUP BY month ORDER BY month",
    ),
    (
        "window_range_numeric_offset",
        "SELECT age, count(*) OVER (ORDER BY age RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING) "
        "FROM (SELECT DISTINCT age FROM marts.dim_customers) a ORDER BY age",
    ),
    (
        "window_percent_rank_of_tenure",
        "SELECT customer_id, tenure_days, round(percent_rank() OVER (ORDER BY tenure_days)::numeric, 4), "
        "round(cume_dist() OVER (ORDER BY tenure_days)::numeric, 4) FROM marts.dim_customers "
        "ORDER BY tenure_days DESC, customer_id LIMIT 10",
    ),
    # --- set operations ---------------------------------------------------------------------
    (
        "set_union_locations",
        "SELECT location FROM marts.dim_customers UNION SELECT location FROM marts.fct_customer_churn_monthly ORDER BY 1",
    ),
    (
        "set_union_all_table_counts",
        "SELECT 'customers' AS source, count(*) FROM marts.dim_customers UNION ALL "
        "SELECT 'features', count(*) FROM marts.customer_features UNION ALL "
        "SELECT 'churn rows', count(*) FROM marts.fct_customer_churn_monthly ORDER BY source",
    ),
    (
        "set_intersect_count",
        "SELECT count(*) FROM (SELECT customer_id FROM marts.dim_customers WHERE is_churned "
        "INTERSECT SELECT customer_id FROM marts.customer_features WHERE days_since_last_event > 30) s",
    ),
    (
        "set_except_locations",
        "SELECT DISTINCT location FROM marts.dim_customers EXCEPT "
        "SELECT location FROM marts.dim_customers WHERE account_type = 'Enterprise' AND age > 60 ORDER BY 1",
    ),
    (
        "set_except_all_counts",
        "SELECT account_type, count(*) FROM (SELECT account_type FROM marts.dim_customers EXCEPT ALL "
        "SELECT account_type FROM marts.dim_customers WHERE is_churned) x GROUP BY 1 ORDER BY 1",
    ),
    (
        "set_intersect_all_values",
        "SELECT * FROM (VALUES (1), (1), (2), (3)) AS a(x) INTERSECT ALL SELECT * FROM (VALUES (1), (1), (1), (3)) AS b(x) "
        "ORDER BY 1",
    ),
    (
        "set_parenthesized_branches",
        "(SELECT location, count(*) AS n FROM marts.dim_customers GROUP BY location ORDER BY n DESC, location LIMIT 3) "
        "UNION ALL (SELECT location, count(*) FROM marts.dim_customers GROUP BY location ORDER BY 2, location LIMIT 3) "
        "ORDER BY n DESC, location",
    ),
    (
        "set_operator_precedence",
        "SELECT 1 AS n UNION SELECT 2 INTERSECT SELECT 3 ORDER BY n",
    ),
    (
        "set_parenthesized_precedence",
        "(SELECT 1 AS n UNION SELECT 2) INTERSECT SELECT 2 UNION ALL SELECT 4 ORDER BY n DESC LIMIT 5",
    ),
    (
        "set_union_type_resolution",
        "SELECT 1 AS v UNION ALL SELECT 2.5 UNION ALL SELECT NULL ORDER BY v NULLS FIRST",
    ),
    (
        "set_union_unaliased_names",
        "SELECT count(*), max(age) FROM marts.dim_customers WHERE is_churned "
        "UNION ALL SELECT count(*), max(age) FROM marts.dim_customers WHERE NOT is_churned ORDER BY 1",
    ),
    (
        "set_except_offset",
        "SELECT month FROM intermediate.int_months EXCEPT SELECT month FROM marts.fct_arpu_monthly "
        "WHERE month > (SELECT min(month) + 60 FROM intermediate.int_months) ORDER BY month LIMIT 10 OFFSET 1",
    ),
    # --- common table expressions -----------------------------------------------------------
    (
        "cte_multiple",
        "WITH churned AS (SELECT account_type, count(*) AS n FROM marts.dim_customers WHERE is_churned GROUP BY 1), "
        "totals AS (SELECT account_type, count(*) AS n FROM marts.dim_customers GROUP BY 1) "
        "SELECT t.account_type, t.n, coalesce(c.n, 0), round(coalesce(c.n, 0)::numeric / t.n, 4) "
        "FROM totals t LEFT JOIN churned c USING (account_type) ORDER BY t.account_type",
    ),
    (
        "cte_materialized_hints",
        "WITH m AS MATERIALIZED (SELECT month, sum(revenue) AS revenue FROM marts.fct_arpu_monthly GROUP BY month), "
        "n AS NOT MATERIALIZED (SELECT month, sum(customers_churned) AS churned FROM marts.fct_customer_churn_monthly "
        "GROUP BY month) SELECT m.month, m.revenue, n.churned FROM m JOIN n USING (month) ORDER BY m.month",
    ),
    (
        "cte_recursive_numbers",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i, i * i, i ^ 2 FROM n ORDER BY i",
    ),
    (
        "cte_recursive_month_spine",
        "WITH RECURSIVE months AS (SELECT min(month) AS month FROM marts.fct_arpu_monthly UNION ALL "
        "SELECT (month + interval '1 month')::date FROM months WHERE month < (SELECT max(month) FROM marts.fct_arpu_monthly)) "
        "SELECT m.month, coalesce(sum(a.revenue), 0) FROM months m LEFT JOIN marts.fct_arpu_monthly a USING (month) "
        "GROUP BY m.month ORDER BY m.month",
    ),
    (
        "cte_recursive_cycle_clause",
        "WITH RECURSIVE g(src, dst) AS (VALUES (1, 2), (2, 3), (3, 1)), walk AS (SELECT src, dst, 1 AS depth FROM g "
        "WHERE src = 1 UNION ALL SELECT g.src, g.dst, w.depth + 1 FROM g JOIN walk w ON g.src = w.dst) "
        "CYCLE src SET is_cycle USING path SELECT src, dst, depth, is_cycle FROM walk ORDER BY depth",
    ),
    (
        "cte_recursive_search_clause",
        "WITH RECURSIVE tree(id, parent) AS (VALUES (1, NULL), (2, 1), (3, 1), (4, 2)), t AS (SELECT id, 0 AS lvl "
        "FROM tree WHERE parent IS NULL UNION ALL SELECT tree.id, t.lvl + 1 FROM tree JOIN t ON tree.parent = t.id) "
        "SEARCH BREADTH FIRST BY id SET ord SELECT id, lvl FROM t ORDER BY ord",
    ),
    (
        "cte_recursive_fibonacci",
        "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0::numeric, 1::numeric UNION ALL "
        "SELECT n + 1, b, a + b FROM fib WHERE n < 30) SELECT n, a FROM fib ORDER BY n",
    ),
    (
        "cte_column_list_and_reuse",
        "WITH plan_sizes(plan, customers) AS (SELECT account_type, count(*) FROM marts.dim_customers GROUP BY 1) "
        "SELECT p.plan, p.customers, p.customers - (SELECT min(customers) FROM plan_sizes) FROM plan_sizes p ORDER BY p.plan",
    ),
    # --- grouping sets ------------------------------------------------------------------------
    (
        "grouping_rollup_with_grouping",
        "SELECT account_type, location, count(*), GROUPING(account_type, location) FROM marts.dim_customers "
        "GROUP BY ROLLUP (account_type, location) ORDER BY account_type NULLS LAST, location NULLS LAST",
    ),
    (
        "grouping_cube",
        "SELECT account_type, gender, count(*), grouping(account_type), grouping(gender) FROM marts.dim_customers "
        "GROUP BY CUBE (account_type, gender) ORDER BY 4, 5, 1, 2",
    ),
    (
        "grouping_sets_revenue",
        "SELECT month, service_type, sum(revenue) FROM marts.fct_arpu_monthly "
        "GROUP BY GROUPING SETS ((month), (service_type), ()) ORDER BY month NULLS FIRST, service_type NULLS FIRST",
    ),
    (
        "grouping_mixed_rollup",
        "SELECT account_type, age_band, count(*) FROM marts.dim_customers GROUP BY account_type, ROLLUP (age_band) "
        "ORDER BY account_type, age_band NULLS LAST",
    ),
    (
        "grouping_rollup_labels",
        "SELECT CASE WHEN grouping(account_type) = 1 THEN 'All plans' ELSE account_type END AS plan, "
        "sum(lifetime_revenue), count(*) FROM marts.dim_customers GROUP BY ROLLUP (account_type) "
        "ORDER BY grouping(account_type), 1",
    ),
    # --- conditionals and predicates --------------------------------------------------------
    (
        "case_searched_tenure_band",
        "SELECT CASE WHEN tenure_days < 90 THEN 'new' WHEN tenure_days < 365 THEN 'established' ELSE 'loyal' END "
        "AS tenure_band, count(*) FROM marts.dim_customers GROUP BY 1 ORDER BY 1",
    ),
    (
        "case_simple_unaliased",
        "SELECT account_type, CASE account_type WHEN 'Basic' THEN 1 WHEN 'Premium' THEN 2 ELSE 3 END, count(*) "
        "FROM marts.dim_customers GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "case_without_else",
        "SELECT CASE WHEN 1 > 2 THEN 'x' END, CASE 5 WHEN 1 THEN 'one' END IS NULL, "
        "CASE WHEN true THEN 1 ELSE 2.5 END",
    ),
    (
        "coalesce_nullif_literals",
        "SELECT coalesce(NULL, NULL, 'x'), nullif(5, 5), nullif('a', 'b'), coalesce(NULL::int, 0) + 1, "
        "nullif(0, 0) IS NULL",
    ),
    (
        "coalesce_churn_month",
        "SELECT coalesce(churn_month, date '9999-12-01') AS churn_month_or_never, count(*) "
        "FROM marts.dim_customers GROUP BY 1 ORDER BY 1",
    ),
    (
        "greatest_least_on_customers",
        "SELECT customer_id, greatest(tenure_days, 30), least(age, 65), greatest(signup_date, date '2026-01-01') "
        "FROM marts.dim_customers ORDER BY customer_id LIMIT 8",
    ),
    (
        "is_distinct_from_literals",
        "SELECT NULL IS DISTINCT FROM NULL, 1 IS DISTINCT FROM NULL, NULL IS NOT DISTINCT FROM NULL, "
        "1 IS NOT DISTINCT FROM 1",
    ),
    (
        "is_distinct_from_columns",
        "SELECT count(*) FILTER (WHERE churn_date IS DISTINCT FROM NULL), "
        "count(*) FILTER (WHERE churn_month IS NOT DISTINCT FROM signup_month) FROM marts.dim_customers",
    ),
    (
        "between_forms",
        "SELECT 5 BETWEEN SYMMETRIC 10 AND 1, 5 BETWEEN 10 AND 1, 5 NOT BETWEEN 1 AND 3, "
        "5 NOT BETWEEN SYMMETRIC 6 AND 4, 5 BETWEEN ASYMMETRIC 1 AND 10",
    ),
    (
        "between_on_ages",
        "SELECT count(*) FILTER (WHERE age BETWEEN 25 AND 34), count(*) FILTER (WHERE age BETWEEN SYMMETRIC 34 AND 25) "
        "FROM marts.dim_customers",
    ),
    (
        "is_true_false_unknown",
        "SELECT true IS TRUE, NULL::boolean IS NOT FALSE, NULL::boolean IS UNKNOWN, false IS NOT TRUE, "
        "true IS NOT UNKNOWN, false IS FALSE",
    ),
    (
        "is_true_on_columns",
        "SELECT count(*) FILTER (WHERE is_churned IS TRUE), count(*) FILTER (WHERE is_churned IS NOT TRUE), "
        "count(*) FILTER (WHERE (churn_date > date '2026-01-01') IS UNKNOWN) FROM marts.dim_customers",
    ),
    (
        "row_comparisons",
        "SELECT (1, 2) < (1, 3), ROW(1, 'a') = ROW(1, 'a'), (1, NULL) = (1, 2), (2, 1) > (1, 9), ROW(1, 2) IS NULL, "
        "ROW(NULL, NULL) IS NULL, (1, 2) IN ((1, 2), (3, 4)), (1, 2) IS DISTINCT FROM (1, NULL)",
    ),
    (
        "row_comparison_on_churn_mart",
        "SELECT month, account_type, location FROM marts.fct_customer_churn_monthly "
        "WHERE (month, account_type) >= ((SELECT max(month) FROM marts.fct_customer_churn_monthly), 'Premium') "
        "ORDER BY 1, 2, 3",
    ),
    (
        "row_values_in_select",
        "SELECT DISTINCT ROW(account_type, location) FROM marts.dim_customers WHERE location = 'North' ORDER BY 1",
    ),
    # --- subqueries -------------------------------------------------------------------------
    (
        "exists_correlated",
        "SELECT location FROM (SELECT DISTINCT location FROM marts.dim_customers) l WHERE EXISTS "
        "(SELECT 1 FROM marts.dim_customers c WHERE c.location = l.location AND c.account_type = 'Enterprise' "
        "AND c.is_churned) ORDER BY 1",
    ),
    (
        "not_exists_empty_select_list",
        "SELECT count(*) FROM marts.dim_customers c WHERE NOT EXISTS "
        "(SELECT FROM staging.stg_telco__revenue r WHERE r.customer_id = c.customer_id)",
    ),
    (
        "exists_in_select_list",
        "SELECT EXISTS (SELECT 1 FROM marts.dim_customers WHERE age > 100), "
        "NOT EXISTS (SELECT 1 FROM intermediate.int_months WHERE days_in_month > 31)",
    ),
    (
        "in_subquery",
        "SELECT account_type, count(*) FROM marts.customer_features WHERE customer_id IN "
        "(SELECT customer_id FROM marts.dim_customers WHERE churn_month IS NOT NULL) GROUP BY 1 ORDER BY 1",
    ),
    (
        "not_in_subquery",
        "SELECT DISTINCT location FROM marts.dim_customers WHERE location NOT IN "
        "(SELECT location FROM marts.fct_customer_churn_monthly WHERE churn_rate > 0.2 AND location IS NOT NULL) ORDER BY 1",
    ),
    (
        "in_value_lists",
        "SELECT count(*) FROM marts.dim_customers WHERE location IN ('North', 'South') "
        "AND age_band NOT IN ('18-24', '65+')",
    ),
    (
        "scalar_subqueries_unaliased",
        "SELECT (SELECT count(*) FROM marts.dim_customers), (SELECT max(as_of_date) FROM marts.dim_customers), "
        "(SELECT 1), (SELECT location FROM marts.dim_customers ORDER BY location LIMIT 1)",
    ),
    (
        "correlated_scalar_subquery",
        "SELECT d.location, d.n, (SELECT count(*) FROM marts.dim_customers c WHERE c.location = d.location "
        "AND c.is_churned) AS churned FROM (SELECT location, count(*) AS n FROM marts.dim_customers GROUP BY location) d "
        "ORDER BY d.location",
    ),
    (
        "correlated_above_plan_average",
        "SELECT c.account_type, count(*) FROM marts.dim_customers c WHERE c.lifetime_revenue > "
        "(SELECT avg(x.lifetime_revenue) FROM marts.dim_customers x WHERE x.account_type = c.account_type) "
        "GROUP BY c.account_type ORDER BY c.account_type",
    ),
    (
        "quantified_subqueries",
        "SELECT count(*) FILTER (WHERE age > ALL (SELECT age FROM marts.dim_customers WHERE account_type = 'Enterprise' "
        "AND age < 30)), count(*) FILTER (WHERE location = ANY (SELECT location FROM marts.dim_customers "
        "WHERE account_type = 'Enterprise')), count(*) FILTER (WHERE age < SOME (SELECT 20)) FROM marts.dim_customers",
    ),
    # --- limits, ordering, sampling ----------------------------------------------------------
    (
        "fetch_first_with_ties",
        "SELECT * FROM (SELECT age_band, count(*) AS n FROM marts.dim_customers GROUP BY age_band "
        "ORDER BY count(*) DESC FETCH FIRST 2 ROWS WITH TIES) t ORDER BY n DESC, age_band",
    ),
    (
        "fetch_first_with_ties_values",
        "SELECT * FROM (SELECT x FROM (VALUES (1), (2), (2), (3)) AS v(x) ORDER BY x FETCH FIRST 2 ROWS WITH TIES) t "
        "ORDER BY x",
    ),
    (
        "fetch_next_row_only",
        "SELECT customer_id, lifetime_revenue FROM marts.dim_customers ORDER BY lifetime_revenue DESC, customer_id "
        "FETCH NEXT 1 ROW ONLY",
    ),
    (
        "offset_rows_fetch_next",
        "SELECT month, account_type FROM marts.fct_arpu_monthly WHERE service_type = 'voice' "
        "ORDER BY month, account_type OFFSET 5 ROWS FETCH NEXT 5 ROWS ONLY",
    ),
    (
        "limit_offset",
        "SELECT customer_id, signup_date FROM marts.dim_customers ORDER BY signup_date, customer_id LIMIT 5 OFFSET 10",
    ),
    ("limit_all_offset", "SELECT month FROM intermediate.int_months ORDER BY month LIMIT ALL OFFSET 10"),
    (
        "tablesample_bernoulli_count",
        "SELECT count(*) > 0, count(*) <= (SELECT count(*) FROM marts.dim_customers) "
        "FROM marts.dim_customers TABLESAMPLE BERNOULLI (10) REPEATABLE (42)",
    ),
    (
        "tablesample_system_rows",
        "SELECT customer_id, account_type FROM marts.dim_customers AS c TABLESAMPLE SYSTEM (50) REPEATABLE (7) "
        "ORDER BY customer_id LIMIT 5",
    ),
    (
        "tablesample_bernoulli_aggregate",
        "SELECT account_type, count(*) FROM marts.customer_features TABLESAMPLE BERNOULLI (20) REPEATABLE (1) "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "order_nulls_last",
        "SELECT customer_id, churn_date FROM marts.dim_customers ORDER BY churn_date DESC NULLS LAST, customer_id LIMIT 10",
    ),
    (
        "order_nulls_first",
        "SELECT customer_id, churn_date FROM marts.dim_customers ORDER BY churn_date NULLS FIRST, customer_id LIMIT 5",
    ),
    (
        "order_by_ordinals",
        "SELECT location, account_type, count(*) FROM marts.dim_customers GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
    ),
    (
        "order_by_expression_not_selected",
        "SELECT DISTINCT location, length(location) FROM marts.dim_customers ORDER BY length(location) DESC, location",
    ),
    (
        "order_by_alias_desc",
        "SELECT account_type AS plan, sum(lifetime_revenue) AS revenue FROM marts.dim_customers GROUP BY account_type "
        "ORDER BY revenue DESC, plan",
    ),
    (
        "order_by_using_operator",
        "SELECT month FROM intermediate.int_months ORDER BY month USING > LIMIT 3",
    ),
    # --- DISTINCT ON, LATERAL, generate_series ---------------------------------------------
    (
        "distinct_on_worst_month_per_location",
        "SELECT DISTINCT ON (location) location, month, churn_rate FROM marts.fct_customer_churn_monthly "
        "WHERE account_type = 'Basic' ORDER BY location, churn_rate DESC, month",
    ),
    (
        "distinct_on_newest_signup_per_plan",
        "SELECT DISTINCT ON (account_type) account_type, customer_id, created_at FROM marts.dim_customers "
        "ORDER BY account_type, created_at DESC, customer_id",
    ),
    (
        "distinct_on_multiple_keys",
        "SELECT DISTINCT ON (account_type, location) account_type, location, age, customer_id FROM marts.dim_customers "
        "WHERE account_type <> 'Basic' ORDER BY account_type, location, age DESC, customer_id",
    ),
    (
        "lateral_top2_churn_months",
        "SELECT a.account_type, t.month, t.churned FROM (SELECT DISTINCT account_type FROM marts.dim_customers) a "
        "CROSS JOIN LATERAL (SELECT month, sum(customers_churned) AS churned FROM marts.fct_customer_churn_monthly f "
        "WHERE f.account_type = a.account_type GROUP BY month ORDER BY churned DESC, month LIMIT 2) t ORDER BY 1, 2",
    ),
    (
        "lateral_left_join_on_true",
        "SELECT m.month, x.top_service, x.revenue FROM intermediate.int_months m LEFT JOIN LATERAL "
        "(SELECT service_type AS top_service, sum(revenue) AS revenue FROM marts.fct_arpu_monthly a "
        "WHERE a.month = m.month GROUP BY service_type ORDER BY 2 DESC, 1 LIMIT 1) x ON true ORDER BY m.month",
    ),
    (
        "lateral_generate_series_comma_join",
        "SELECT m.month, d.day FROM intermediate.int_months m, LATERAL generate_series(m.month, m.month_end_date, "
        "interval '7 days') AS d(day) WHERE m.month = (SELECT max(month) FROM intermediate.int_months) ORDER BY d.day",
    ),
    (
        "lateral_implicit_function",
        "SELECT c.location, s.part FROM (SELECT DISTINCT location FROM marts.dim_customers) c, "
        "regexp_split_to_table(c.location, '-') AS s(part) ORDER BY 1, 2",
    ),
    ("generate_series_int_step", "SELECT generate_series(1, 10, 3) ORDER BY 1"),
    (
        "generate_series_descending_alias",
        "SELECT x, x % 3 FROM generate_series(10, 1, -2) AS x ORDER BY x",
    ),
    ("generate_series_numeric", "SELECT generate_series(0.5, 2.0, 0.25) ORDER BY 1"),
    (
        "generate_series_timestamptz",
        "SELECT g, extract(hour FROM g) FROM generate_series(timestamptz '2024-03-30 22:00+00', "
        "timestamptz '2024-03-31 04:00+00', interval '2 hours') AS g ORDER BY g",
    ),
    # --- geometric, network, uuid, ranges, full-text search ---------------------------------
    (
        "geometry_points",
        "SELECT point(1, 2), point '(3,4)', point(0, 0) <-> point(3, 4), point(1, 2) + point(1, 1), "
        "point(2, 2) * point(2, 0), point(1, 1) ~= point(1, 1)",
    ),
    (
        "geometry_boxes_circles",
        "SELECT box(point(0, 0), point(2, 2)), area(box '((0,0),(2,3))'), center(box '((0,0),(2,2))'), "
        "circle(point(0, 0), 2), area(circle '<(0,0),1>'), box '((0,0),(4,4))' @> point '(1,1)', "
        "box '((0,0),(1,1))' && box '((0.5,0.5),(2,2))', radius(circle '<(1,1),3>'), diameter(circle '<(1,1),3>')",
    ),
    (
        "geometry_lines_paths_polygons",
        "SELECT lseg(point(0, 0), point(3, 4)), length(lseg '[(0,0),(3,4)]'), '[(0,0),(1,1),(2,0)]'::path, "
        "polygon '((0,0),(1,0),(1,1))', point '(0.5,0.2)' <@ polygon '((0,0),(1,0),(1,1))', line '{1,-1,0}', "
        "npoints(path '[(0,0),(1,1),(2,0)]'), point(1, 1) <-> lseg '[(0,0),(2,0)]'",
    ),
    (
        "geometry_site_distances",
        "WITH sites(location, pos) AS (VALUES ('North', point(0, 10)), ('South', point(0, -10)), "
        "('East', point(10, 0)), ('West', point(-10, 0)), ('Central', point(0, 0))) "
        "SELECT a.location, b.location, round((a.pos <-> b.pos)::numeric, 3) FROM sites a JOIN sites b "
        "ON a.location < b.location ORDER BY 3, 1, 2",
    ),
    (
        "network_inet_operators",
        "SELECT inet '192.168.1.5' << inet '192.168.1.0/24', inet '192.168.1.0/24' >>= inet '192.168.1.0/24', "
        "host(inet '10.1.2.3/16'), masklen(cidr '10.0.0.0/8'), network(inet '10.1.2.3/16'), "
        "broadcast(inet '10.1.2.3/16'), netmask(inet '10.1.2.3/16'), family(inet '::1'), inet '10.0.0.1' + 5, "
        "inet '10.0.0.10' - inet '10.0.0.1', abbrev(cidr '10.1.0.0/16'), set_masklen(inet '10.1.2.3', 24), "
        "inet_same_family(inet '10.0.0.1', inet '::1'), inet '10.0.0.1' && inet '10.0.0.0/8'",
    ),
    (
        "network_values_classification",
        "SELECT ip, ip << cidr '10.0.0.0/8' AS private_a, host(ip), masklen(ip) FROM "
        "(VALUES (inet '10.2.3.4'), (inet '192.168.0.1/24'), (inet '8.8.8.8')) AS v(ip) ORDER BY ip",
    ),
    (
        "network_macaddr",
        "SELECT macaddr '08:00:2b:01:02:03', trunc(macaddr '08:00:2b:01:02:03'), macaddr8 '08:00:2b:01:02:03:04:05'",
    ),
    (
        "uuid_comparisons",
        "SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid, "
        "md5('x')::uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid < 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    ),
    ("uuid_random", "SELECT gen_random_uuid(), gen_random_uuid() IS NOT NULL"),
    (
        "uuid_mart_renderings",
        "SELECT customer_id, customer_id::text, upper(customer_id::text), replace(customer_id::text, '-', ''), "
        "length(customer_id::text) FROM marts.dim_customers ORDER BY 1 LIMIT 5",
    ),
    (
        "range_constructors_and_operators",
        "SELECT int4range(1, 10), int4range(1, 10, '[]'), daterange(date '2024-01-01', date '2024-02-01'), "
        "tstzrange(timestamptz '2024-01-01 00:00+00', NULL), numrange(1.5, 3.5, '(]'), "
        "'[1,5)'::int4range && '[4,8)'::int4range, int4range(1, 10) @> 5, int4range(1, 10) @> int4range(2, 3), "
        "5 <@ int4range(1, 10), tsrange('2024-01-01', '2024-01-02', '[]')",
    ),
    (
        "range_functions",
        "SELECT lower(int4range(3, 7)), upper(int4range(3, 7)), isempty(int4range(5, 5)), "
        "lower_inc(numrange(1, 2, '(]')), upper_inf(int4range(1, NULL)), int4range(1, 5) * int4range(3, 9), "
        "int4range(1, 5) + int4range(5, 9), int4range(1, 9) - int4range(5, 12), range_merge(int4range(1, 2), "
        "int4range(5, 6)), int4range(1, 5) << int4range(6, 9), int4range(1, 5) -|- int4range(5, 9)",
    ),
    (
        "range_multiranges",
        "SELECT int4multirange(int4range(1, 3), int4range(5, 7)), '{[1,3), [2,5)}'::int4multirange, range_agg(r), "
        "range_intersect_agg(r) FROM (VALUES (int4range(1, 3)), (int4range(2, 5)), (int4range(8, 9))) AS v(r)",
    ),
    (
        "range_active_in_last_month",
        "SELECT account_type, count(*) FROM marts.dim_customers WHERE daterange(signup_date, churn_date, '[)') @> "
        "(SELECT max(month) FROM intermediate.int_months) GROUP BY 1 ORDER BY 1",
    ),
    (
        "range_overlap_per_month",
        "SELECT m.month, count(c.customer_id) FROM intermediate.int_months m LEFT JOIN marts.dim_customers c "
        "ON daterange(c.signup_date, c.churn_date) && daterange(m.month, m.next_month) GROUP BY m.month ORDER BY m.month",
    ),
    (
        "fulltext_constructors",
        "SELECT to_tsvector('english', 'Dropped calls and slow data in the North-East'), "
        "to_tsquery('english', 'dropped & call'), plainto_tsquery('english', 'slow data'), "
        "phraseto_tsquery('english', 'slow data'), websearch_to_tsquery('english', '\"dropped calls\" -sms')",
    ),
    (
        "fulltext_matching_and_ranking",
        "SELECT to_tsvector('english', 'Dropped calls in the north') @@ to_tsquery('english', 'call & north'), "
        "'a fat cat'::tsvector @@ 'cat & !dog'::tsquery, "
        "ts_rank(to_tsvector('english', 'slow data slow network'), to_tsquery('english', 'slow')), "
        "ts_rank_cd(to_tsvector('english', 'slow data slow network'), to_tsquery('english', 'slow')), "
        "ts_headline('english', 'The network was slow today', to_tsquery('english', 'slow'))",
    ),
    (
        "fulltext_on_segments",
        "SELECT account_type, location, ts_rank(to_tsvector('simple', location || ' ' || account_type), "
        "plainto_tsquery('simple', 'north premium')) AS score FROM (SELECT DISTINCT account_type, location "
        "FROM marts.dim_customers) s WHERE to_tsvector('simple', location || ' ' || account_type) @@ "
        "to_tsquery('simple', 'north | premium') ORDER BY score DESC, location, account_type",
    ),
    (
        "fulltext_operators",
        "SELECT to_tsquery('a') && to_tsquery('b'), to_tsquery('a') || to_tsquery('b'), !! to_tsquery('a'), "
        "to_tsvector('a b') || to_tsvector('c'), numnode(to_tsquery('a & b')), strip('a:1 b:2'::tsvector), "
        "setweight(to_tsvector('simple', 'x'), 'A'), length(to_tsvector('simple', 'one two two'))",
    ),
    # --- identifiers, stars, joins -----------------------------------------------------------
    (
        "quoted_aliases_with_spaces",
        'SELECT account_type AS "Plan", count(*) AS "Customer Count", round(avg(age), 1) AS "Avg Age (years)", '
        'sum(lifetime_revenue) AS "Lifetime Revenue" FROM marts.dim_customers GROUP BY account_type ORDER BY "Plan"',
    ),
    (
        "quoted_alias_non_ascii",
        'SELECT account_type AS "Formule", sum(lifetime_revenue) AS "Revenu €" FROM marts.dim_customers '
        "GROUP BY account_type ORDER BY 1",
    ),
    (
        "mixed_case_keywords",
        "SeLeCt Location, CoUnT(*) FrOm MARTS.DIM_CUSTOMERS gRoUp By Location OrDeR bY location",
    ),
    (
        "quoted_real_identifiers",
        'SELECT "location", "account_type", count(*) AS "select", max(age) AS "order" '
        'FROM "marts"."dim_customers" GROUP BY "location", "account_type" ORDER BY 1, 2',
    ),
    (
        "quoted_alias_with_embedded_quote",
        'SELECT 1 AS "say ""hi""", 2 AS "from", 3 AS "MixedCase", 4 AS "lower case"',
    ),
    (
        "bare_aliases_without_as",
        "SELECT location loc, count(*) n, max(age) oldest FROM marts.dim_customers GROUP BY loc ORDER BY loc",
    ),
    (
        "keyword_like_aliases",
        "SELECT month AS year, 1 AS value, 'x' AS name, count(*) AS rows FROM intermediate.int_months "
        "GROUP BY month ORDER BY year",
    ),
    ("select_star_months", "SELECT * FROM intermediate.int_months ORDER BY month"),
    ("select_star_history_window", "SELECT * FROM intermediate.int_history_window"),
    (
        "qualified_star_with_join",
        "SELECT m.*, h.as_of_date FROM intermediate.int_months m CROSS JOIN intermediate.int_history_window h "
        "ORDER BY m.month",
    ),
    (
        "star_plus_expression",
        "SELECT *, churn_rate * 100 FROM marts.fct_customer_churn_monthly "
        "WHERE month = (SELECT max(month) FROM marts.fct_customer_churn_monthly) ORDER BY account_type, location",
    ),
    (
        "star_from_unaliased_subquery_columns",
        "SELECT * FROM (SELECT account_type, count(*), max(age) FROM marts.dim_customers GROUP BY account_type) AS s "
        "ORDER BY 1",
    ),
    (
        "star_revenue_staging",
        "SELECT * FROM staging.stg_telco__revenue ORDER BY transacted_at, transaction_id LIMIT 5",
    ),
    (
        "star_events_staging",
        "SELECT * FROM staging.stg_telco__network_events ORDER BY event_timestamp DESC, event_id LIMIT 5",
    ),
    ("star_customers_staging", "SELECT * FROM staging.stg_telco__customers ORDER BY customer_id LIMIT 5"),
    ("star_customer_features", "SELECT * FROM marts.customer_features ORDER BY customer_id LIMIT 3"),
    (
        "star_network_quality_latest",
        "SELECT * FROM marts.fct_network_quality_daily WHERE event_date = (SELECT max(event_date) "
        "FROM marts.fct_network_quality_daily) ORDER BY location, event_type",
    ),
    (
        "star_usage_monthly",
        "SELECT u.* FROM intermediate.int_customer_usage_monthly u ORDER BY u.customer_id, u.month LIMIT 6",
    ),
    (
        "star_customer_months",
        "SELECT cm.* FROM intermediate.int_customer_months AS cm ORDER BY cm.customer_id, cm.month LIMIT 6",
    ),
    (
        "join_implicit_comma",
        "SELECT c.account_type, round(avg(f.avg_quality_score), 4), count(*) FROM marts.dim_customers c, "
        "marts.customer_features f WHERE c.customer_id = f.customer_id GROUP BY c.account_type ORDER BY 1",
    ),
    (
        "join_using_multiple_columns",
        "SELECT account_type, count(*), sum(total_events) FROM marts.dim_customers "
        "JOIN marts.customer_features USING (customer_id, account_type) GROUP BY account_type ORDER BY 1",
    ),
    (
        "join_full_outer",
        "SELECT coalesce(a.month, c.month) AS month, a.revenue, c.churned FROM (SELECT month, sum(revenue) AS revenue "
        "FROM marts.fct_arpu_monthly GROUP BY month) a FULL OUTER JOIN (SELECT month, sum(customers_churned) AS churned "
        "FROM marts.fct_customer_churn_monthly GROUP BY month) c ON c.month = a.month ORDER BY 1",
    ),
    (
        "join_natural",
        "SELECT * FROM (SELECT month, sum(revenue) AS revenue FROM marts.fct_arpu_monthly GROUP BY month) a "
        "NATURAL JOIN (SELECT month, sum(customers_at_risk) AS at_risk FROM marts.fct_customer_churn_monthly "
        "GROUP BY month) c ORDER BY month",
    ),
    (
        "join_right_outer",
        "SELECT m.month, count(d.customer_id) FROM marts.dim_customers d RIGHT JOIN intermediate.int_months m "
        "ON d.churn_month = m.month GROUP BY m.month ORDER BY m.month",
    ),
    (
        "join_self_previous_month",
        "WITH agg AS (SELECT month, account_type, sum(customers_churned) AS churned FROM marts.fct_customer_churn_monthly "
        "GROUP BY 1, 2) SELECT cur.month, cur.account_type, cur.churned, prev.churned AS prev_churned, "
        "cur.churned - prev.churned FROM agg cur LEFT JOIN agg prev ON prev.account_type = cur.account_type "
        "AND prev.month = (cur.month - interval '1 month')::date ORDER BY cur.account_type, cur.month",
    ),
    (
        "join_cross",
        "SELECT a.account_type, s.service_type FROM (SELECT DISTINCT account_type FROM marts.dim_customers) a "
        "CROSS JOIN (SELECT DISTINCT service_type FROM marts.fct_arpu_monthly) s ORDER BY 1, 2",
    ),
    (
        "join_values_list",
        "SELECT v.plan, v.monthly_fee, count(c.customer_id), v.monthly_fee * count(c.customer_id) "
        "FROM (VALUES ('Basic', 19.99), ('Premium', 49.99), ('Enterprise', 199.0)) AS v(plan, monthly_fee) "
        "LEFT JOIN marts.dim_customers c ON c.account_type = v.plan GROUP BY v.plan, v.monthly_fee ORDER BY v.monthly_fee",
    ),
    (
        "join_non_equi_bands",
        "SELECT b.band, count(c.customer_id) FROM (VALUES ('0-99', 0, 100), ('100-499', 100, 500), "
        "('500+', 500, 1000000)) AS b(band, lo, hi) LEFT JOIN marts.dim_customers c "
        "ON c.lifetime_revenue >= b.lo AND c.lifetime_revenue < b.hi GROUP BY b.band, b.lo ORDER BY b.lo",
    ),
    (
        "join_three_way",
        "SELECT d.account_type, count(DISTINCT d.customer_id), sum(r.amount), round(avg(f.avg_quality_score), 3) "
        "FROM marts.dim_customers d JOIN marts.customer_features f ON f.customer_id = d.customer_id "
        "LEFT JOIN staging.stg_telco__revenue r ON r.customer_id = d.customer_id AND r.service_type = 'subscription' "
        "GROUP BY d.account_type ORDER BY 1",
    ),
    (
        "values_in_from_unaliased_columns",
        "SELECT * FROM (VALUES (1, 'one', true), (2, 'two', NULL)) AS v ORDER BY 1",
    ),
    (
        "information_schema_mart_columns",
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'marts' AND table_name = 'fct_arpu_monthly' ORDER BY ordinal_position",
    ),
    (
        "information_schema_tables",
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema IN ('marts', 'intermediate', 'staging') ORDER BY 1, 2",
    ),
    # --- analytics over the marts ------------------------------------------------------------
    (
        "churn_rate_by_plan_per_month",
        "SELECT month, account_type, sum(customers_churned) AS churned, sum(customers_at_risk) AS at_risk, "
        "round(sum(customers_churned)::numeric / nullif(sum(customers_at_risk), 0), 4) AS churn_rate "
        "FROM marts.fct_customer_churn_monthly WHERE is_complete_month GROUP BY month, account_type "
        "ORDER BY month, account_type",
    ),
    (
        "arpu_trend_with_change",
        """WITH m AS (
    SELECT month, account_type, sum(revenue) AS revenue, max(active_customers) AS active
    FROM marts.fct_arpu_monthly
    GROUP BY 1, 2
)
SELECT month, account_type, round(revenue / active, 2) AS arpu,
       round(revenue / active - lag(revenue / active) OVER (PARTITION BY account_type ORDER BY month), 2) AS arpu_change
FROM m
ORDER BY account_type, month""",
    ),
    (
        "network_quality_percentiles_recent",
        "SELECT c.location, count(*), percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY e.network_quality_score) "
        "FROM staging.stg_telco__network_events e JOIN marts.dim_customers c USING (customer_id) "
        "WHERE e.event_date > (SELECT as_of_date - 30 FROM intermediate.int_history_window) "
        "GROUP BY c.location ORDER BY c.location",
    ),
    (
        "cohort_retention_recent_cohorts",
        """SELECT d.signup_month AS cohort,
       (extract(year FROM age(cm.month, d.signup_month)) * 12 + extract(month FROM age(cm.month, d.signup_month)))::int
           AS months_since_signup,
       count(DISTINCT cm.customer_id) AS active_customers
FROM intermediate.int_customer_months cm
JOIN marts.dim_customers d USING (customer_id)
WHERE d.signup_month >= (SELECT max(month) - interval '5 months' FROM intermediate.int_months)
GROUP BY 1, 2
ORDER BY 1, 2""",
    ),
    (
        "revenue_year_over_year",
        "WITH monthly AS (SELECT month, sum(revenue) AS revenue FROM marts.fct_arpu_monthly GROUP BY month) "
        "SELECT month, revenue, lag(revenue, 12) OVER (ORDER BY month) AS revenue_last_year, "
        "round(100 * (revenue / nullif(lag(revenue, 12) OVER (ORDER BY month), 0) - 1), 2) AS yoy_pct "
        "FROM monthly ORDER BY month",
    ),
    (
        "quality_moving_average_7d",
        "SELECT event_date, round(sum(avg_quality_score * event_count) / sum(event_count), 4) AS quality, "
        "round(avg(sum(avg_quality_score * event_count) / sum(event_count)) OVER (ORDER BY event_date ROWS 6 PRECEDING), 4) "
        "AS quality_7d FROM marts.fct_network_quality_daily GROUP BY event_date ORDER BY event_date DESC LIMIT 28",
    ),
    (
        "poor_quality_share_by_event_type",
        "SELECT event_type, sum(poor_quality_events), sum(event_count), "
        "round(sum(poor_quality_events)::numeric / sum(event_count), 4) FROM marts.fct_network_quality_daily "
        "GROUP BY event_type ORDER BY event_type",
    ),
    (
        "churn_by_quality_bucket",
        "SELECT width_bucket(avg_quality_score, 1, 5, 4) AS quality_bucket, count(*), "
        "round(avg(is_churned::int), 4) AS churn_rate FROM marts.customer_features GROUP BY 1 ORDER BY 1 NULLS LAST",
    ),
    (
        "at_risk_customers_declining_usage",
        "SELECT customer_id, account_type, days_since_last_event, usage_trend FROM marts.customer_features "
        "WHERE NOT is_churned AND usage_trend < -0.2 ORDER BY usage_trend, customer_id LIMIT 20",
    ),
    (
        "revenue_mix_by_payment_rollup",
        "SELECT payment_method, service_type, count(*), sum(amount), round(avg(amount), 2) "
        "FROM staging.stg_telco__revenue GROUP BY ROLLUP (payment_method, service_type) "
        "ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    ),
    (
        "hourly_usage_profile",
        "SELECT event_hour, event_type, count(*), round(avg(duration_seconds), 1), sum(data_usage_mb) "
        "FROM staging.stg_telco__network_events GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "net_adds_running_total",
        "SELECT month, sum(new_customers) AS gross_adds, sum(customers_churned) AS churned, "
        "sum(new_customers) - sum(customers_churned) AS net_adds, "
        "sum(sum(new_customers) - sum(customers_churned)) OVER (ORDER BY month) "
        "FROM marts.fct_customer_churn_monthly GROUP BY month ORDER BY month",
    ),
    (
        "pareto_revenue_concentration",
        """WITH ranked AS (
    SELECT customer_id, lifetime_revenue,
           sum(lifetime_revenue) OVER (ORDER BY lifetime_revenue DESC, customer_id) AS running,
           sum(lifetime_revenue) OVER () AS total
    FROM marts.dim_customers
)
SELECT count(*) FILTER (WHERE running <= 0.8 * total) AS customers_for_80pct,
       count(*) AS customers,
       round(100.0 * count(*) FILTER (WHERE running <= 0.8 * total) / count(*), 2)
FROM ranked""",
    ),
    (
        "data_usage_by_age_band",
        "SELECT age_band, count(*), round(avg(avg_monthly_data_mb), 2), "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY total_data_usage_mb) FROM marts.customer_features "
        "GROUP BY age_band ORDER BY age_band",
    ),
    (
        "daily_active_customers_last_week",
        "SELECT event_date, count(DISTINCT customer_id), count(*) FROM staging.stg_telco__network_events "
        "WHERE event_date > (SELECT max(event_date) - 7 FROM staging.stg_telco__network_events) "
        "GROUP BY event_date ORDER BY event_date",
    ),
    (
        "churn_by_age_band_and_gender",
        "SELECT age_band, count(*) FILTER (WHERE gender = 'Female' AND is_churned) AS female_churned, "
        "count(*) FILTER (WHERE gender = 'Male' AND is_churned) AS male_churned, "
        "count(*) FILTER (WHERE gender NOT IN ('Female', 'Male') AND is_churned), "
        "round(avg(CASE WHEN is_churned THEN 1 ELSE 0 END), 4) FROM marts.dim_customers GROUP BY age_band ORDER BY age_band",
    ),
    (
        "location_quality_rank_latest_month",
        "SELECT location, round(avg(avg_quality_score), 4) AS q, rank() OVER (ORDER BY avg(avg_quality_score) DESC) "
        "FROM marts.fct_network_quality_daily WHERE event_date >= (SELECT date_trunc('month', max(event_date))::date "
        "FROM marts.fct_network_quality_daily) GROUP BY location ORDER BY 3, 1",
    ),
    (
        "median_tenure_churned_vs_active",
        "SELECT is_churned, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY tenure_days) AS median_tenure, "
        "avg(tenure_days)::numeric(10,1) FROM marts.dim_customers GROUP BY is_churned ORDER BY is_churned",
    ),
    (
        "service_share_latest_month",
        "SELECT service_type, sum(revenue), round(100 * sum(revenue) / sum(sum(revenue)) OVER (), 2) AS share_pct "
        "FROM marts.fct_arpu_monthly WHERE month = (SELECT max(month) FROM marts.fct_arpu_monthly WHERE is_complete_month) "
        "GROUP BY service_type ORDER BY share_pct DESC, service_type",
    ),
    (
        "churn_month_distribution",
        "SELECT churn_month, count(*), sum(count(*)) OVER (ORDER BY churn_month) FROM marts.dim_customers "
        "WHERE churn_month IS NOT NULL GROUP BY churn_month ORDER BY churn_month",
    ),
    (
        "feature_summary_by_churn",
        "SELECT is_churned, count(*), round(avg(total_events), 1), round(avg(avg_quality_score), 4), "
        "round(avg(days_since_last_event), 1), percentile_cont(0.5) WITHIN GROUP (ORDER BY total_revenue) "
        "FROM marts.customer_features GROUP BY is_churned ORDER BY is_churned",
    ),
    (
        "usage_monthly_growth",
        "SELECT month, sum(event_count) AS events, sum(data_usage_mb) AS data_mb, "
        "round(100.0 * (sum(event_count) - lag(sum(event_count)) OVER (ORDER BY month)) / "
        "nullif(lag(sum(event_count)) OVER (ORDER BY month), 0), 2) AS events_growth_pct "
        "FROM intermediate.int_customer_usage_monthly GROUP BY month ORDER BY month",
    ),
    (
        "enterprise_active_customers",
        "SELECT customer_id, location, signup_date, tenure_days, lifetime_revenue FROM marts.dim_customers "
        "WHERE account_type = 'Enterprise' AND NOT is_churned ORDER BY lifetime_revenue DESC, customer_id LIMIT 15",
    ),
    (
        "worst_quality_days",
        "SELECT event_date, location, event_type, avg_quality_score, poor_quality_share FROM marts.fct_network_quality_daily "
        "WHERE event_count >= 10 ORDER BY poor_quality_share DESC, event_date, location, event_type LIMIT 10",
    ),
    (
        "hours_to_first_event",
        "SELECT d.account_type, round(avg(extract(epoch FROM (u.first_event_at - d.created_at)) / 3600), 2) "
        "FROM marts.dim_customers d JOIN (SELECT customer_id, min(first_event_at) AS first_event_at "
        "FROM intermediate.int_customer_usage_monthly GROUP BY customer_id) u USING (customer_id) "
        "WHERE u.first_event_at >= d.created_at GROUP BY d.account_type ORDER BY 1",
    ),
    (
        "tenure_as_intervals",
        "SELECT account_type, justify_days(make_interval(days => max(tenure_days))), "
        "make_interval(days => min(tenure_days)) FROM marts.dim_customers GROUP BY account_type ORDER BY 1",
    ),
    (
        "quarterly_revenue_pivot",
        "SELECT date_trunc('quarter', month)::date AS quarter, sum(revenue) FILTER (WHERE account_type = 'Basic') AS basic, "
        "sum(revenue) FILTER (WHERE account_type = 'Premium') AS premium, "
        "sum(revenue) FILTER (WHERE account_type = 'Enterprise') AS enterprise FROM marts.fct_arpu_monthly "
        "GROUP BY 1 ORDER BY 1",
    ),
    (
        "arpu_paying_vs_all",
        "SELECT service_type, round(avg(arpu), 2), round(avg(arpu_paying), 2), sum(paying_customers), "
        "max(active_customers) FROM marts.fct_arpu_monthly WHERE is_complete_month GROUP BY service_type ORDER BY 1",
    ),
    (
        "churn_by_location_latest_complete_month",
        "SELECT location, sum(customers_churned), sum(customers_at_risk), "
        "round(sum(customers_churned)::numeric / sum(customers_at_risk), 4) FROM marts.fct_customer_churn_monthly "
        "WHERE month = (SELECT max(month) FROM marts.fct_customer_churn_monthly WHERE is_complete_month) "
        "GROUP BY location ORDER BY 4 DESC, location",
    ),
    (
        "revenue_by_payment_method_monthly",
        "SELECT transaction_month, payment_method, count(*), sum(amount)::money FROM staging.stg_telco__revenue "
        "WHERE transaction_month >= (SELECT max(transaction_month) - interval '2 months' FROM staging.stg_telco__revenue) "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "data_heavy_users_share",
        "SELECT account_type, count(*) FILTER (WHERE avg_monthly_data_mb > 1000), count(*), "
        "round(100.0 * count(*) FILTER (WHERE avg_monthly_data_mb > 1000) / count(*), 2) FROM marts.customer_features "
        "GROUP BY account_type ORDER BY account_type",
    ),
    (
        "event_mix_per_customer_month",
        "SELECT month, sum(call_events), sum(sms_events), sum(data_events), "
        "round(sum(quality_score_sum) / nullif(sum(scored_event_count), 0), 4) FROM intermediate.int_customer_usage_monthly "
        "GROUP BY month ORDER BY month",
    ),
    (
        "customer_lifetime_buckets",
        "SELECT CASE WHEN active_months >= 12 THEN '12+' WHEN active_months >= 6 THEN '6-11' ELSE '0-5' END AS active_band, "
        "count(*), round(avg(total_revenue), 2), round(avg(is_churned::int), 4) FROM marts.customer_features "
        "GROUP BY 1 ORDER BY 1",
    ),
    (
        "new_customers_per_signup_quarter",
        "SELECT to_char(signup_month, 'YYYY\"-Q\"Q') AS signup_quarter, count(*), count(*) FILTER (WHERE is_churned) "
        "FROM marts.dim_customers WHERE signup_month >= date '2025-01-01' GROUP BY 1 ORDER BY 1",
    ),
    (
        "staging_customers_churn_consistency",
        "SELECT is_churned, churn_date IS NULL, churned_at IS NULL, count(*) FROM staging.stg_telco__customers "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    ),
    (
        "busiest_hour_per_event_type",
        "SELECT DISTINCT ON (event_type) event_type, event_hour, count(*) FROM staging.stg_telco__network_events "
        "GROUP BY event_type, event_hour ORDER BY event_type, count(*) DESC, event_hour",
    ),
]

VOLATILE: frozenset[str] = frozenset(
    {
        "now_bare",
        "current_date_bare",
        "current_time_bare",
        "current_timestamp_bare",
        "localtime_bare",
        "localtimestamp_bare",
        "current_keywords_lowercase",
        "current_keywords_precision",
        "current_date_arithmetic",
        "now_casts_and_trunc",
        "clock_functions",
        "now_at_time_zone",
        "age_single_argument",
        "signups_up_to_today",
        "math_random_bounds",
        "math_random_order",
        "uuid_random",
    }
)

# Valid PostgreSQL the guard refuses rather than rewrite (a faithful rendering is not
# possible with sqlglot): case id -> part of the refusal the agent reads, which says what to
# write instead where there is an alternative. Nothing else in FIDELITY may be refused.
REFUSED: dict[str, str] = {
    "timestamp_precision_casts": "drop the (n), or round with date_trunc",  # ::interval(2)
    "math_operators": "write abs(x) instead of @ x",
    "math_operators_numeric": "write abs(x) instead of @ x",
    "string_substring_forms": "use substring(s FROM 'regex')",  # substring(s similar p escape e)
    "string_unicode_normalization": "IS NORMALIZED compare with normalize(x)",
    "order_by_using_operator": "write ASC for USING < and DESC for USING >",
    "geometry_points": "The ~= operator is not supported",
    "network_inet_operators": "write inet_supeq(a, b) for a >>= b",
    "fulltext_operators": "write tsquery_not(q) instead of !! q",
}
