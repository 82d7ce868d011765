-- One row per billed transaction, with the month the revenue is attributed to.
with source as (

    select * from {{ source('telco', 'revenue') }}

),

renamed as (

    select
        transaction_id,
        customer_id,
        transaction_date                                    as transacted_at,
        transaction_date::date                              as transaction_date,
        date_trunc('month', transaction_date)::date         as transaction_month,
        amount::numeric(10, 2)                              as amount,
        service_type::text                                  as service_type,
        payment_method::text                                as payment_method
    from source

)

select * from renamed
