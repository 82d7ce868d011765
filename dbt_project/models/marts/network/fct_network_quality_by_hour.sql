-- Network quality per subscriber location, event type and hour of day (0-23), over all history:
-- the hour-of-day profile (the network_quality analysis reads these few hundred rows, not every
-- event). Events of customers unknown to raw.customers are left out (they have no location); a
-- customer without a location stays null, a group. The quality statistics use the scored events
-- only and are not rounded, so averages weighted across groups are exact.
with events as (

    select * from {{ ref('stg_telco__network_events') }}

),

customers as (

    select * from {{ ref('stg_telco__customers') }}

),

events_located as (

    select
        customers.location,
        events.event_type,
        events.event_hour,
        events.network_quality_score,
        events.is_poor_quality
    from events
    inner join customers
        on customers.customer_id = events.customer_id

)

select
    location,
    event_type,
    event_hour,
    count(*)::integer                                                       as event_count,
    count(network_quality_score)::integer                                   as scored_event_count,
    count(*) filter (where is_poor_quality)::integer                        as poor_quality_events,
    avg(network_quality_score)                                              as avg_quality_score,
    percentile_cont(0.1) within group (order by network_quality_score)      as p10_quality_score,
    percentile_cont(0.5) within group (order by network_quality_score)      as median_quality_score,
    percentile_cont(0.9) within group (order by network_quality_score)      as p90_quality_score
from events_located
group by location, event_type, event_hour
