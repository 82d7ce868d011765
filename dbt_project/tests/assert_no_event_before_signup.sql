-- Shown in Dagster as a check on stg_telco__network_events.
{{ config(meta={'dagster': {'ref': {'name': 'stg_telco__network_events'}}}) }}
-- No network event happens before its customer signed up.
select
    events.event_id,
    events.customer_id,
    events.event_timestamp,
    customers.created_at
from {{ ref('stg_telco__network_events') }} as events
inner join {{ ref('stg_telco__customers') }} as customers
    on customers.customer_id = events.customer_id
where events.event_timestamp < customers.created_at
