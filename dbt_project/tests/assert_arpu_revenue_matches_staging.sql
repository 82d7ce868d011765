-- Shown in Dagster as a check on fct_arpu_monthly.
{{ config(meta={'dagster': {'ref': {'name': 'fct_arpu_monthly'}}}) }}
-- Total revenue in fct_arpu_monthly per month equals the staged revenue of that month
-- (transactions of known customers, in months that have active customers of the account type).
with arpu as (

    select
        month,
        account_type,
        sum(revenue) as revenue
    from {{ ref('fct_arpu_monthly') }}
    group by 1, 2

),

staged as (

    select
        revenue.transaction_month as month,
        customers.account_type,
        sum(revenue.amount) as revenue
    from {{ ref('stg_telco__revenue') }} as revenue
    inner join {{ ref('stg_telco__customers') }} as customers
        on customers.customer_id = revenue.customer_id
    group by 1, 2

)

select
    arpu.month,
    arpu.account_type,
    arpu.revenue as arpu_revenue,
    staged.revenue as staged_revenue
from arpu
left join staged
    on staged.month = arpu.month
    and staged.account_type is not distinct from arpu.account_type
where arpu.revenue <> coalesce(staged.revenue, 0)
