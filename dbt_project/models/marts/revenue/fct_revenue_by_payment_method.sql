-- Revenue and transactions per payment method and account type, over all history: the payment
-- mix (the arpu analysis reads it). Transactions of customers unknown to raw.customers are left
-- out (they have no account type); a missing payment method or account type stays null, a group.
with revenue as (

    select * from {{ ref('stg_telco__revenue') }}

),

customers as (

    select * from {{ ref('stg_telco__customers') }}

)

select
    revenue.payment_method,
    customers.account_type,
    sum(revenue.amount)::numeric(16, 2)                     as revenue,
    count(*)::integer                                       as transactions,
    count(distinct revenue.customer_id)::integer            as paying_customers
from revenue
inner join customers
    on customers.customer_id = revenue.customer_id
group by revenue.payment_method, customers.account_type
