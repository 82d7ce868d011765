-- Churned customers are a subset of the customers at risk (active) in the month.
select *
from {{ ref('fct_customer_churn_monthly') }}
where customers_churned > customers_at_risk
    or new_customers > customers_at_risk
    or customers_churned < 0
