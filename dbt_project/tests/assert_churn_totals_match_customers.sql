-- Shown in Dagster as a check on fct_customer_churn_monthly.
{{ config(meta={'dagster': {'ref': {'name': 'fct_customer_churn_monthly'}}}) }}
-- Every churn inside the reporting months is counted exactly once in fct_customer_churn_monthly,
-- in the month of its churn timestamp (recomputed independently from staging).
with months as (

    select
        min(month) as first_month,
        max(month) as last_month
    from {{ ref('int_months') }}

),

expected as (

    select
        date_trunc('month', customers.churned_at)::date as month,
        count(*) as churned
    from {{ ref('stg_telco__customers') }} as customers
    cross join months
    where customers.churned_at >= months.first_month
        and customers.churned_at < months.last_month + interval '1 month'
    group by 1

),

actual as (

    select
        month,
        sum(customers_churned) as churned
    from {{ ref('fct_customer_churn_monthly') }}
    group by 1

)

select
    coalesce(expected.month, actual.month) as month,
    expected.churned as expected_churned,
    actual.churned as actual_churned
from expected
full outer join actual on actual.month = expected.month
where coalesce(expected.churned, 0) <> coalesce(actual.churned, 0)
