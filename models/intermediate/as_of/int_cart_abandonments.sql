-- Carts at as_of, one row per lead and day with an add-to-cart. A cart is abandoned
-- when var('abandoned_cart_delay_hours') have passed since the day's last add and no
-- order (any status) nor purchase event followed within that delay.
with

cart_days as (

    select
        lead_id,
        activity_date as cart_date,
        first_at as first_add_at,
        last_at as last_add_at,
        n_events as n_adds
    from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'event_type' and signal_key = 'add_to_cart'

),

purchase_days as (

    select
        lead_id,
        first_at,
        last_at
    from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'event_type' and signal_key = 'purchase'

),

orders as (

    select
        lead_id,
        ordered_at
    from {{ ref('int_orders_as_of') }}

),

carts as (

    select
        cart_days.*,
        {{ dbt.dateadd('hour', var('abandoned_cart_delay_hours'), 'cart_days.last_add_at') }} as abandoned_at
    from cart_days

),

converted as (

    select distinct
        carts.lead_id,
        carts.cart_date
    from carts
    inner join orders
        on
            carts.lead_id = orders.lead_id
            and carts.first_add_at <= orders.ordered_at
            and carts.abandoned_at >= orders.ordered_at
    union
    select distinct
        carts.lead_id,
        carts.cart_date
    from carts
    inner join purchase_days
        on
            carts.lead_id = purchase_days.lead_id
            and carts.first_add_at <= purchase_days.last_at
            and carts.abandoned_at >= purchase_days.first_at

),

final as (

    select
        carts.lead_id,
        carts.cart_date,
        carts.first_add_at,
        carts.last_add_at,
        carts.n_adds,
        carts.abandoned_at,
        converted.lead_id is not null as is_converted,
        converted.lead_id is null and carts.abandoned_at <= {{ as_of() }} as is_abandoned
    from carts
    left join converted
        on
            carts.lead_id = converted.lead_id
            and carts.cart_date = converted.cart_date

)

select * from final
