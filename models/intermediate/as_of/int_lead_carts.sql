-- Carts at as_of, one row per lead and cart. A cart is a basket that lives from its first
-- add-to-cart until a purchase (an order of any status, or a `purchase` event) or until
-- the lead stops adding for longer than var('cart_inactivity_gap_hours'); a basket
-- continued the next day is the same cart. Adds are known per day (first and last add
-- of the day), so a purchase between two adds of the same day does not split a cart.
--   converted: a purchase from the first add until var('abandoned_cart_delay_hours')
--              after the last add
--   abandoned: not converted and that delay has passed before as_of
--   closed_at: the first purchase after the first add (also a late one: the lead bought,
--              so the cart no longer calls for a reminder)
--   is_open:   abandoned, not closed, last add within var('abandoned_cart_open_days')
with

cart_signals as (

    -- the add-to-cart and purchase days of all history: the older days straight from the
    -- daily aggregate (with the point-in-time rule of int_lead_signals_as_of), the recent
    -- ones from int_lead_signals_as_of
    select
        lead_id,
        activity_date,
        signal_key,
        sum(n_events) as n_events,
        min(first_at) as first_at,
        max(last_at) as last_at
    from {{ ref('int_lead_daily_signals') }}
    where
        signal_type = 'event_type'
        and signal_key in ('add_to_cart', 'purchase')
        and activity_date < {{ recent_signals_start_date() }}
        and (identity_linked_at is null or identity_linked_at < {{ as_of() }})
    group by lead_id, activity_date, signal_key
    union all
    select
        lead_id,
        activity_date,
        signal_key,
        n_events,
        first_at,
        last_at
    from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'event_type' and signal_key in ('add_to_cart', 'purchase')

),

cart_days as (

    select
        lead_id,
        activity_date,
        first_at,
        last_at,
        n_events
    from cart_signals
    where signal_key = 'add_to_cart'

),

purchases as (

    -- every purchase as a span of time: an order is a moment, purchase events are
    -- known per day (first and last of the day)
    select
        lead_id,
        first_at as purchase_from,
        last_at as purchase_to
    from cart_signals
    where signal_key = 'purchase'
    union all
    select
        lead_id,
        ordered_at as purchase_from,
        ordered_at as purchase_to
    from {{ ref('int_orders_as_of') }}

),

with_previous as (

    select
        *,
        lag(last_at) over (partition by lead_id order by activity_date) as previous_last_at
    from cart_days

),

purchase_between as (

    -- add days with a purchase since the previous add day: they start a new cart
    select distinct
        with_previous.lead_id,
        with_previous.activity_date
    from with_previous
    inner join purchases
        on
            with_previous.lead_id = purchases.lead_id
            and with_previous.previous_last_at < purchases.purchase_to
            and with_previous.first_at >= purchases.purchase_from

),

flagged as (

    select
        with_previous.*,
        case
            when with_previous.previous_last_at is null then 1
            when purchase_between.lead_id is not null then 1
            when
                with_previous.first_at > {{ dbt.dateadd(
                    'hour', var('cart_inactivity_gap_hours'), 'with_previous.previous_last_at') }}
                then 1
            else 0
        end as starts_cart
    from with_previous
    left join purchase_between
        on
            with_previous.lead_id = purchase_between.lead_id
            and with_previous.activity_date = purchase_between.activity_date

),

numbered as (

    select
        *,
        sum(starts_cart) over (
            partition by lead_id
            order by activity_date
            rows between unbounded preceding and current row
        ) as cart_number
    from flagged

),

carts as (

    select
        lead_id,
        cart_number,
        min(activity_date) as cart_date,
        min(first_at) as first_add_at,
        max(last_at) as last_add_at,
        sum(n_events) as n_adds,
        {{ dbt.dateadd('hour', var('abandoned_cart_delay_hours'), 'max(last_at)') }} as abandoned_at
    from numbered
    group by lead_id, cart_number

),

closed as (

    select
        carts.lead_id,
        carts.cart_number,
        min(purchases.purchase_to) as closed_at
    from carts
    inner join purchases
        on
            carts.lead_id = purchases.lead_id
            and carts.first_add_at <= purchases.purchase_to
    group by carts.lead_id, carts.cart_number

),

final as (

    select
        carts.lead_id,
        cast(carts.cart_number as integer) as cart_number,
        carts.cart_date,
        carts.first_add_at,
        carts.last_add_at,
        cast(carts.n_adds as integer) as n_adds,
        carts.abandoned_at,
        closed.closed_at,
        coalesce(closed.closed_at <= carts.abandoned_at, false) as is_converted,
        not coalesce(closed.closed_at <= carts.abandoned_at, false)
        and carts.abandoned_at <= {{ as_of() }} as is_abandoned,
        closed.closed_at is null
        and carts.abandoned_at <= {{ as_of() }}
        and carts.last_add_at >= {{ as_of_date_minus(var('abandoned_cart_open_days')) }} as is_open
    from carts
    left join closed
        on
            carts.lead_id = closed.lead_id
            and carts.cart_number = closed.cart_number

)

select * from final
