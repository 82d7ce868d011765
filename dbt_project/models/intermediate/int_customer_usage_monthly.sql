{{ config(materialized='table') }}
-- Network usage per customer and calendar month of the event (one pass over all events).
-- Additive measures only, so that any roll-up (per customer, per month) stays exact.
select
    customer_id,
    event_month                                                     as month,
    count(*)::integer                                               as event_count,
    count(network_quality_score)::integer                           as scored_event_count,
    coalesce(sum(network_quality_score), 0)::numeric(14, 2)         as quality_score_sum,
    count(*) filter (where is_poor_quality)::integer                as poor_quality_events,
    count(*) filter (where event_type = 'call')::integer            as call_events,
    count(*) filter (where event_type = 'sms')::integer             as sms_events,
    count(*) filter (where event_type = 'data')::integer            as data_events,
    coalesce(sum(duration_seconds), 0)::bigint                      as duration_seconds,
    coalesce(sum(data_usage_mb), 0)::numeric(16, 2)                 as data_usage_mb,
    min(event_timestamp)                                            as first_event_at,
    max(event_timestamp)                                            as last_event_at
from {{ ref('stg_telco__network_events') }}
where customer_id is not null
group by customer_id, event_month
