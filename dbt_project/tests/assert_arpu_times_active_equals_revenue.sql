-- ARPU x active customers reproduces revenue up to the rounding of ARPU to cents
-- (|error| <= half a cent per customer; same for arpu_paying), and the ARPU denominator is the
-- same for all service types of a month x account type.
with arpu as (

    select
        *,
        min(active_customers) over (partition by month, account_type) as min_active,
        max(active_customers) over (partition by month, account_type) as max_active
    from {{ ref('fct_arpu_monthly') }}

)

select
    month,
    account_type,
    service_type,
    revenue,
    active_customers,
    paying_customers,
    arpu,
    arpu_paying
from arpu
where abs(arpu * active_customers - revenue) > 0.005 * active_customers
    or (
        paying_customers > 0
        and abs(arpu_paying * paying_customers - revenue) > 0.005 * paying_customers
    )
    or (paying_customers = 0 and arpu_paying is not null)
    or min_active <> max_active
