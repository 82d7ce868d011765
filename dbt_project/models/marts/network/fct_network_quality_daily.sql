{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['event_date', 'location', 'event_type'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['event_date']},
            {'columns': ['location', 'event_date']},
        ],
    )
}}
{#- sqlfluff's indentation rule (LT02) misreads the whitespace-controlled jinja down to the end of the
    events CTE: it is off there. -#}
-- noqa: disable=LT02
{#-
    Daily network quality per location and event type.

    Processed window (on event_timestamp, which the raw index serves):
      * full build: all events;
      * incremental build: from (latest event_date already in the table - var network_lookback_days),
        plus every day listed in var reprocess_days ('YYYY-MM-DD' strings): days that received
        late-arriving events (an imported CDR file from last month), which the look-back would
        never reach. Consecutive days are merged into one range; each range stays a plain
        `event_timestamp >= start and event_timestamp < end` so the raw index still serves it;
      * vars min_date / max_date ('YYYY-MM-DD', both inclusive, both optional) restrict the window
        on any run; when min_date is set it replaces the lookback lower bound (partitioned backfills)
        and reprocess_days is not added (the window is explicit).
    The delete+insert strategy replaces every (event_date, location, event_type) row that is rebuilt,
    so a re-processed day ends up exactly as a full build would make it.
-#}
{%- set min_date = var('min_date', none) -%}
{%- set max_date = var('max_date', none) -%}
{#- Validated and merged here: the values are pasted into SQL, so only real dates get through. -#}
{%- set reprocess = namespace(ranges=[]) -%}
{%- set one_day = modules.datetime.timedelta(days=1) -%}
{%- set reprocess_days = var('reprocess_days', []) or [] -%}
{%- if reprocess_days is string -%}
    {{ exceptions.raise_compiler_error("var reprocess_days must be a list of 'YYYY-MM-DD' dates, got a string") }}
{%- endif -%}
{%- for value in reprocess_days | map('string') | unique | sort -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error("var reprocess_days holds '" ~ value ~ "', not a 'YYYY-MM-DD' date") }}
    {%- endif -%}
    {%- set day = modules.datetime.date.fromisoformat(value) -%}
    {%- if reprocess.ranges and reprocess.ranges[-1][1] == day -%}
        {%- set last = reprocess.ranges.pop() -%}
        {%- do reprocess.ranges.append([last[0], day + one_day]) -%}
    {%- else -%}
        {%- do reprocess.ranges.append([day, day + one_day]) -%}
    {%- endif -%}
{%- endfor %}

with events as (

    select * from {{ ref('stg_telco__network_events') }}
    where true
    {%- if min_date %}
        and event_timestamp >= '{{ min_date }}'::date
    {%- elif is_incremental() %}
        and (
            event_timestamp >= (
                select coalesce(max(loaded.event_date) - {{ var('network_lookback_days', 3) | int }}, '-infinity'::date)
                from {{ this }} as loaded
            )
            {%- for range in reprocess.ranges %}
            or (event_timestamp >= '{{ range[0] }}'::date and event_timestamp < '{{ range[1] }}'::date)
            {%- endfor %}
        )
    {%- endif %}
    {%- if max_date %}
        and event_timestamp < '{{ max_date }}'::date + 1
    {%- endif %}
    -- noqa: enable=LT02

),

customers as (

    select * from {{ ref('stg_telco__customers') }}

),

events_located as (

    -- grouping keys in the "C" collation: byte-wise comparison makes the big sort much cheaper
    select
        events.event_date,
        coalesce(customers.location, 'Unknown') collate "C"    as location,
        coalesce(events.event_type, 'unknown') collate "C"     as event_type,
        events.customer_id,
        events.network_quality_score,
        events.is_poor_quality,
        events.duration_seconds,
        events.data_usage_mb
    from events
    left join customers
        on customers.customer_id = events.customer_id

)

select
    event_date,
    location,
    event_type,
    count(*)::integer                                                           as event_count,
    count(distinct customer_id)::integer                                        as distinct_customers,
    round(avg(network_quality_score), 3)::numeric(5, 3)                         as avg_quality_score,
    round((percentile_cont(0.1) within group (order by network_quality_score))::numeric, 3)::numeric(5, 3)
        as p10_quality_score,
    round((percentile_cont(0.5) within group (order by network_quality_score))::numeric, 3)::numeric(5, 3)
        as median_quality_score,
    count(*) filter (where is_poor_quality)::integer                            as poor_quality_events,
    round(count(*) filter (where is_poor_quality)::numeric / count(*), 4)::numeric(5, 4)
        as poor_quality_share,
    coalesce(sum(duration_seconds), 0)::bigint                                  as total_duration_seconds,
    coalesce(sum(data_usage_mb), 0)::numeric(16, 2)                             as total_data_usage_mb
from events_located
group by event_date, location, event_type
