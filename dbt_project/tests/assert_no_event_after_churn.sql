{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'stg_telco__network_events'}}}) }}
-- Churned customers generate no network events after their churn timestamp (warning only:
-- late-arriving network records after a cancellation are plausible in real data).
select
    events.event_id,
    events.customer_id,
    events.event_timestamp,
    customers.churned_at
from {{ ref('stg_telco__network_events') }} as events
inner join {{ ref('stg_telco__customers') }} as customers
    on customers.customer_id = events.customer_id
where customers.churned_at is not null
    and events.event_timestamp > customers.churned_at
