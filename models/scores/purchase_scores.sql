-- Purchase behaviour at as_of, one row per known lead: cart adds, abandoned carts and
-- their age, orders (first-time vs repeat buyer), RFM, refunds and cancellations
-- counting against. Points from rules/scoring_rules and rules/repeat_purchase_points.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

cart_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        signal_type = 'event_type'
        and signal_key in ('add_to_cart', 'checkout_started')
        and activity_date >= {{ as_of_date_minus(var('medium_window_days')) }}

),

carts as (

    select * from {{ ref('int_lead_carts') }}

),

orders as (

    select * from {{ ref('int_orders_as_of') }}

),

rfm as (

    select * from {{ ref('int_purchase_rfm') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

cart_activity as (

    select
        lead_id,
        {{ sum_last_days("signal_key = 'add_to_cart'", 'n_events', var('medium_window_days')) }} as cart_adds_medium,
        {{ sum_last_days("signal_key = 'checkout_started'", 'n_events', var('medium_window_days')) }} as checkouts_started_medium
    from cart_signal_days
    group by lead_id

),

order_summary as (

    select
        lead_id,
        sum(case when counts_as_purchase then 1 else 0 end) as completed_orders,
        sum(case when counts_as_purchase then 0 else 1 end) as failed_orders,
        min(case when counts_as_purchase then ordered_at end) as first_order_at,
        max(case when counts_as_purchase then ordered_at end) as last_order_at,
        sum(case when counts_as_purchase then amount_eur else 0 end) as lifetime_value_eur
    from orders
    group by lead_id

),

abandoned as (

    select
        carts.lead_id,
        count(*) as abandoned_carts,
        max(carts.last_add_at) as last_abandoned_cart_at,
        max(case when carts.is_open then 1 else 0 end) = 1 as has_open_abandoned_cart
    from carts
    where carts.is_abandoned
    group by carts.lead_id

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        cast(coalesce(cart_activity.cart_adds_medium, 0) as integer) as cart_adds_medium,
        cast(coalesce(cart_activity.checkouts_started_medium, 0) as integer) as checkouts_started_medium,
        cast(coalesce(abandoned.abandoned_carts, 0) as integer) as abandoned_carts,
        abandoned.last_abandoned_cart_at,
        {{ days_before_as_of('abandoned.last_abandoned_cart_at') }} as days_since_abandoned_cart,
        coalesce(abandoned.has_open_abandoned_cart, false) as has_open_abandoned_cart,
        cast(coalesce(order_summary.completed_orders, 0) as integer) as completed_orders,
        cast(coalesce(order_summary.failed_orders, 0) as integer) as failed_orders,
        order_summary.first_order_at,
        order_summary.last_order_at,
        {{ days_before_as_of('order_summary.last_order_at') }} as days_since_last_order,
        coalesce(order_summary.lifetime_value_eur, 0) as lifetime_value_eur,
        case
            when coalesce(order_summary.completed_orders, 0) >= {{ var('repeat_buyer_min_orders') }} then 'repeat'
            when coalesce(order_summary.completed_orders, 0) = 1 then 'first_time'
            else 'none'
        end as buyer_type,
        rfm.rfm_recency_score,
        rfm.rfm_frequency_score,
        rfm.rfm_segment,
        dimension_scores.purchase_raw_points as raw_points,
        dimension_scores.purchase_score
    from spine
    inner join dimension_scores
        on spine.lead_id = dimension_scores.lead_id
    left join cart_activity
        on spine.lead_id = cart_activity.lead_id
    left join order_summary
        on spine.lead_id = order_summary.lead_id
    left join abandoned
        on spine.lead_id = abandoned.lead_id
    left join rfm
        on spine.lead_id = rfm.lead_id

)

select * from final
