-- One row per network event, with calendar fields and the poor-quality flag.
with source as (

    select * from {{ source('telco', 'network_events') }}

),

renamed as (

    select
        event_id,
        customer_id,
        event_timestamp,
        event_timestamp::date                                       as event_date,
        extract(hour from event_timestamp)::integer                 as event_hour,
        date_trunc('month', event_timestamp)::date                  as event_month,
        event_type::text                                            as event_type,
        network_quality_score::numeric(3, 2)                        as network_quality_score,
        network_quality_score < {{ poor_quality_threshold() }}      as is_poor_quality,
        duration_seconds::integer                                   as duration_seconds,
        data_usage_mb::numeric(10, 2)                               as data_usage_mb
    from source

)

select * from renamed
