-- Shown in Dagster as a check on customer_features.
{{ config(meta={'dagster': {'ref': {'name': 'customer_features'}}}) }}
-- customer_features carries the same customer attributes as dim_customers and its aggregates
-- are internally consistent.
select features.customer_id
from {{ ref('customer_features') }} as features
inner join {{ ref('dim_customers') }} as customers
    on customers.customer_id = features.customer_id
where features.tenure_days is distinct from customers.tenure_days
    or features.is_churned is distinct from customers.is_churned
    or features.total_revenue is distinct from customers.lifetime_revenue
    or features.usage_trend_months > least(features.active_months, 3)
    or (features.usage_trend is not null and features.usage_trend_months < 2)
    or (features.total_events = 0) <> (features.last_event_at is null)
    or features.days_since_last_event < 0
