-- One row per subscriber: light renames/casts plus calendar and age derivations.
with source as (

    select * from {{ source('telco', 'customers') }}

),

renamed as (

    select
        customer_id,
        created_at,
        created_at::date                                    as signup_date,
        date_trunc('month', created_at)::date               as signup_month,
        age::integer                                        as age,
        {{ age_band('age') }}::text                         as age_band,
        gender::text                                        as gender,
        location::text                                      as location,
        account_type::text                                  as account_type,
        coalesce(is_churned, churn_date is not null)        as is_churned,
        churn_date                                          as churned_at,
        churn_date::date                                    as churn_date,
        date_trunc('month', churn_date)::date               as churn_month
    from source

)

select * from renamed
