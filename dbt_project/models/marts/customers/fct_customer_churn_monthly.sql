{{ config(indexes=[{'columns': ['month']}]) }}
-- Monthly churn per account type and location. At risk = active in the month; churned = churn
-- timestamp inside the month (see docs: active_in_month, churned_in_month).
with customer_months as (

    select * from {{ ref('int_customer_months') }}

),

months as (

    select * from {{ ref('int_months') }}

),

aggregated as (

    select
        month,
        account_type,
        location,
        count(*)                                        as customers_at_risk,
        count(*) filter (where is_churned_in_month)     as customers_churned,
        count(*) filter (where is_new_in_month)         as new_customers
    from customer_months
    group by month, account_type, location

)

select
    aggregated.month,
    aggregated.account_type,
    aggregated.location,
    aggregated.customers_at_risk::integer                                                         as customers_at_risk,
    aggregated.customers_churned::integer                                                         as customers_churned,
    aggregated.new_customers::integer                                                             as new_customers,
    (aggregated.customers_at_risk - aggregated.customers_churned)::integer                        as customers_retained,
    round(aggregated.customers_churned::numeric / aggregated.customers_at_risk, 4)::numeric(5, 4) as churn_rate,
    months.is_complete                                                                            as is_complete_month
from aggregated
inner join months
    on months.month = aggregated.month
where aggregated.customers_at_risk > 0
