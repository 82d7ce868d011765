{{ config(indexes=[{'columns': ['month']}]) }}
-- Monthly revenue and ARPU per account type and service type. Every month x account type with
-- active customers gets all service types (revenue 0 when none). ARPU divides by ALL customers of
-- the account type active in the month, not only those who paid for the service.
with customer_months as (

    select * from {{ ref('int_customer_months') }}

),

customers as (

    select * from {{ ref('stg_telco__customers') }}

),

revenue as (

    select * from {{ ref('stg_telco__revenue') }}

),

months as (

    select * from {{ ref('int_months') }}

),

active as (

    select
        month,
        account_type,
        count(*) as active_customers
    from customer_months
    group by month, account_type

),

service_types as (

    select service_type from {{ service_types_values() }}

),

revenue_by_customer as (

    -- one row per customer x month x service first, so paying customers are a plain count
    select
        customer_id,
        transaction_month                           as month,
        service_type,
        sum(amount)                                 as revenue,
        count(*)                                    as transactions
    from revenue
    where customer_id is not null
    group by customer_id, transaction_month, service_type

),

revenue_by_service as (

    select
        revenue_by_customer.month,
        customers.account_type,
        revenue_by_customer.service_type,
        sum(revenue_by_customer.revenue)            as revenue,
        count(*)                                    as paying_customers,
        sum(revenue_by_customer.transactions)       as transactions
    from revenue_by_customer
    inner join customers
        on customers.customer_id = revenue_by_customer.customer_id
    group by revenue_by_customer.month, customers.account_type, revenue_by_customer.service_type

),

spine as (

    select
        active.month,
        active.account_type,
        service_types.service_type,
        active.active_customers
    from active
    cross join service_types

),

joined as (

    select
        spine.month,
        spine.account_type,
        spine.service_type,
        coalesce(revenue_by_service.revenue, 0)             as revenue,
        spine.active_customers,
        coalesce(revenue_by_service.paying_customers, 0)    as paying_customers,
        coalesce(revenue_by_service.transactions, 0)        as transactions
    from spine
    left join revenue_by_service
        on revenue_by_service.month = spine.month
        and revenue_by_service.account_type is not distinct from spine.account_type
        and revenue_by_service.service_type = spine.service_type

)

select
    joined.month,
    joined.account_type,
    joined.service_type,
    joined.revenue::numeric(14, 2)                                                as revenue,
    joined.active_customers::integer                                              as active_customers,
    joined.paying_customers::integer                                              as paying_customers,
    joined.transactions::integer                                                  as transactions,
    round(joined.revenue / joined.active_customers, 2)::numeric(12, 2)            as arpu,
    round(joined.revenue / nullif(joined.paying_customers, 0), 2)::numeric(12, 2) as arpu_paying,
    months.is_complete                                                            as is_complete_month
from joined
inner join months
    on months.month = joined.month
