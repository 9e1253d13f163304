-- The known leads at as_of: every lead id seen in a profile, an event (directly or
-- through a link made before as_of) or an order before as_of. One row per lead.
with

profiles as (

    select lead_id from {{ ref('int_lead_profiles_as_of') }}

),

signals as (

    select lead_id from {{ ref('int_lead_activity_as_of') }}

),

orders as (

    select distinct lead_id from {{ ref('int_orders_as_of') }}

),

all_ids as (

    select
        lead_id,
        1 as from_profile,
        0 as from_events,
        0 as from_orders
    from profiles
    union all
    select
        lead_id,
        0 as from_profile,
        1 as from_events,
        0 as from_orders
    from signals
    union all
    select
        lead_id,
        0 as from_profile,
        0 as from_events,
        1 as from_orders
    from orders

),

final as (

    select
        lead_id,
        max(from_profile) = 1 as has_profile,
        max(from_events) = 1 as has_events,
        max(from_orders) = 1 as has_orders
    from all_ids
    group by lead_id

)

select * from final
