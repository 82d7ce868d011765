{{ config(materialized='table') }}
-- One row per customer and month in which the customer is active (see docs: active_in_month),
-- within the month spine, with that month's usage and revenue. Feeds churn, ARPU and features.
with customers as (

    select * from {{ ref('stg_telco__customers') }}

),

months as (

    select * from {{ ref('int_months') }}

),

usage as (

    select * from {{ ref('int_customer_usage_monthly') }}

),

revenue as (

    select
        customer_id,
        transaction_month                   as month,
        sum(amount)::numeric(14, 2)         as revenue,
        count(*)::integer                   as transactions
    from {{ ref('stg_telco__revenue') }}
    where customer_id is not null
    group by customer_id, transaction_month

),

customer_months as (

    select
        customers.customer_id,
        months.month,
        customers.account_type,
        customers.location,
        customers.created_at,
        customers.churned_at,
        (
            customers.created_at >= months.month
            and customers.created_at < months.next_month
        )                                                                   as is_new_in_month,
        {{ is_churned_in_month('customers.churned_at', 'months.month') }}   as is_churned_in_month,
        (
            customers.created_at <= months.month
            and (customers.churned_at is null or customers.churned_at >= months.next_month)
            and months.is_complete
        )                                                                   as is_full_month
    from customers
    inner join months
        on {{ is_active_in_month('customers.created_at', 'customers.churned_at', 'months.month') }}

)

select
    customer_months.customer_id,
    customer_months.month,
    customer_months.account_type,
    customer_months.location,
    customer_months.is_new_in_month,
    customer_months.is_churned_in_month,
    customer_months.is_full_month,
    coalesce(usage.event_count, 0)::integer                 as event_count,
    coalesce(usage.poor_quality_events, 0)::integer         as poor_quality_events,
    coalesce(usage.duration_seconds, 0)::bigint             as duration_seconds,
    coalesce(usage.data_usage_mb, 0)::numeric(16, 2)        as data_usage_mb,
    coalesce(revenue.revenue, 0)::numeric(14, 2)            as revenue,
    coalesce(revenue.transactions, 0)::integer              as transactions
from customer_months
left join usage
    on usage.customer_id = customer_months.customer_id
    and usage.month = customer_months.month
left join revenue
    on revenue.customer_id = customer_months.customer_id
    and revenue.month = customer_months.month
