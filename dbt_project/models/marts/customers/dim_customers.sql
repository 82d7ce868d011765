{{ config(indexes=[{'columns': ['account_type', 'location']}, {'columns': ['churn_month']}]) }}
-- One row per customer: attributes, churn, tenure (to churn date or as-of date), lifetime revenue.
with customers as (

    select * from {{ ref('stg_telco__customers') }}

),

history_window as (

    select as_of_date from {{ ref('int_history_window') }}

),

lifetime_revenue as (

    select
        customer_id,
        sum(amount)     as lifetime_revenue,
        count(*)        as lifetime_transactions
    from {{ ref('stg_telco__revenue') }}
    where customer_id is not null
    group by customer_id

)

select
    customers.customer_id,
    customers.created_at,
    customers.signup_date,
    customers.signup_month,
    customers.age,
    customers.age_band,
    customers.gender,
    customers.location,
    customers.account_type,
    customers.is_churned,
    customers.churned_at,
    customers.churn_date,
    customers.churn_month,
    greatest(
        coalesce(customers.churn_date, history_window.as_of_date) - customers.signup_date,
        0
    )::integer                                                          as tenure_days,
    coalesce(lifetime_revenue.lifetime_revenue, 0)::numeric(14, 2)      as lifetime_revenue,
    coalesce(lifetime_revenue.lifetime_transactions, 0)::integer        as lifetime_transactions,
    history_window.as_of_date
from customers
left join history_window
    on true
left join lifetime_revenue
    on lifetime_revenue.customer_id = customers.customer_id
