{{ config(materialized='table') }}
-- Single row: the span of network event history and the data's as-of date.
-- min/max on event_timestamp are served by the raw index on that column. No row when there are
-- no events yet (then the month spine is empty and the as-of date is null).
with bounds as (

    select
        min(event_timestamp) as first_event_at,
        max(event_timestamp) as last_event_at
    from {{ ref('stg_telco__network_events') }}

)

select
    first_event_at,
    last_event_at,
    last_event_at::date                             as as_of_date,
    date_trunc('month', first_event_at)::date       as first_month,
    date_trunc('month', last_event_at)::date        as last_month
from bounds
where last_event_at is not null
