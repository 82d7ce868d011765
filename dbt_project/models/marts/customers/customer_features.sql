-- One row per customer with modelling features (churn prediction, segmentation).
-- Everything is relative to the data's as-of date (last network event), never to now().
with customers as (

    select * from {{ ref('dim_customers') }}

),

usage_monthly as (

    select * from {{ ref('int_customer_usage_monthly') }}

),

customer_months as (

    select * from {{ ref('int_customer_months') }}

),

-- all events of the customer, whenever they happened
usage_totals as (

    select
        customer_id,
        sum(event_count)                                                    as total_events,
        sum(quality_score_sum) / nullif(sum(scored_event_count), 0)         as avg_quality_score,
        sum(poor_quality_events)::numeric / nullif(sum(event_count), 0)     as poor_quality_share,
        sum(data_usage_mb)                                                  as total_data_usage_mb,
        max(last_event_at)                                                  as last_event_at
    from usage_monthly
    group by customer_id

),

-- months in which the customer was active (within the reporting months)
active_months as (

    select
        customer_id,
        count(*)                        as active_months,
        avg(event_count)                as avg_monthly_events,
        avg(data_usage_mb)              as avg_monthly_data_mb,
        avg(revenue)                    as avg_monthly_revenue
    from customer_months
    group by customer_id

),

-- the customer's last three full months, oldest first, with the previous month's event count
last_full_months as (

    select
        customer_id,
        month,
        event_count,
        lag(event_count) over (partition by customer_id order by month) as previous_event_count
    from (
        select
            customer_id,
            month,
            event_count,
            row_number() over (partition by customer_id order by month desc) as recency_rank
        from customer_months
        where is_full_month
    ) as full_months
    where recency_rank <= 3

),

usage_trend as (

    select
        customer_id,
        count(*)                                                                as trend_months,
        avg((event_count - previous_event_count)::numeric / nullif(previous_event_count, 0))
            as usage_trend
    from last_full_months
    group by customer_id

)

select
    customers.customer_id,
    customers.account_type,
    customers.location,
    customers.gender,
    customers.age,
    customers.age_band,
    customers.signup_date,
    customers.tenure_days,
    customers.is_churned,
    customers.churn_date,
    coalesce(usage_totals.total_events, 0)::integer                         as total_events,
    coalesce(active_months.active_months, 0)::integer                       as active_months,
    round(usage_totals.avg_quality_score, 3)::numeric(5, 3)                 as avg_quality_score,
    round(usage_totals.poor_quality_share, 4)::numeric(5, 4)                as poor_quality_share,
    round(active_months.avg_monthly_events, 2)::numeric(12, 2)              as avg_monthly_events,
    round(active_months.avg_monthly_data_mb, 2)::numeric(14, 2)             as avg_monthly_data_mb,
    round(usage_trend.usage_trend, 4)::numeric(12, 4)                       as usage_trend,
    coalesce(usage_trend.trend_months, 0)::integer                          as usage_trend_months,
    coalesce(usage_totals.total_data_usage_mb, 0)::numeric(16, 2)           as total_data_usage_mb,
    customers.lifetime_revenue                                              as total_revenue,
    round(active_months.avg_monthly_revenue, 2)::numeric(12, 2)             as avg_monthly_revenue,
    usage_totals.last_event_at,
    (customers.as_of_date - usage_totals.last_event_at::date)::integer      as days_since_last_event,
    customers.as_of_date
from customers
left join usage_totals
    on usage_totals.customer_id = customers.customer_id
left join active_months
    on active_months.customer_id = customers.customer_id
left join usage_trend
    on usage_trend.customer_id = customers.customer_id
