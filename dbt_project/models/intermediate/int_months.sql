{{ config(materialized='table') }}
-- Month spine: one row per calendar month from the first to the last month with network events.
with history_window as (

    select * from {{ ref('int_history_window') }}

),

spine as (

    select months.month_start::date as month
    from history_window
    cross join lateral generate_series(
        history_window.first_month::timestamp,
        history_window.last_month::timestamp,
        interval '1 month'
    ) as months (month_start)

)

select
    spine.month,
    (spine.month + interval '1 month')::date                            as next_month,
    ((spine.month + interval '1 month')::date - 1)                      as month_end_date,
    ((spine.month + interval '1 month')::date - spine.month)::integer   as days_in_month,
    ((spine.month + interval '1 month')::date - 1) <= history_window.as_of_date
        as is_complete
from spine
cross join history_window
