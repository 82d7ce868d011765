-- Shown in Dagster as a check on fct_network_quality_daily.
{{ config(meta={'dagster': {'ref': {'name': 'fct_network_quality_daily'}}}) }}
-- Daily event counts, poor-quality counts and data volume in fct_network_quality_daily equal the
-- staged events, for every day between the first and last date loaded into the mart (a partial
-- backfill window is respected; a missing day inside it fails).
with mart as (

    select
        event_date,
        sum(event_count) as events,
        sum(poor_quality_events) as poor_events,
        sum(total_data_usage_mb) as data_mb
    from {{ ref('fct_network_quality_daily') }}
    group by event_date

),

bounds as (

    select
        min(event_date) as first_date,
        max(event_date) as last_date
    from mart

),

staged as (

    select
        events.event_date,
        count(*) as events,
        count(*) filter (where events.is_poor_quality) as poor_events,
        coalesce(sum(events.data_usage_mb), 0) as data_mb
    from {{ ref('stg_telco__network_events') }} as events
    cross join bounds
    where events.event_timestamp >= bounds.first_date
        and events.event_timestamp < bounds.last_date + 1
    group by events.event_date

)

select
    coalesce(mart.event_date, staged.event_date) as event_date,
    mart.events as mart_events,
    staged.events as staged_events,
    mart.poor_events as mart_poor_events,
    staged.poor_events as staged_poor_events,
    mart.data_mb as mart_data_mb,
    staged.data_mb as staged_data_mb
from mart
full outer join staged on staged.event_date = mart.event_date
where mart.events is distinct from staged.events
    or mart.poor_events is distinct from staged.poor_events
    or mart.data_mb is distinct from staged.data_mb
