-- Purchase behaviour at as_of, one row per known lead: cart adds, abandoned carts and
-- their age, orders (first-time vs repeat buyer), RFM, refunds and cancellations
-- counting against. Points from rules/scoring_rules and rules/repeat_purchase_points.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

raw_signals as (

    select * from {{ ref('int_lead_signals_as_of') }}

),

carts as (

    select * from {{ ref('int_cart_abandonments') }}

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
        {{ sum_last_days("signal_key = 'add_to_cart'", 'n_events', 30) }} as cart_adds_30d,
        {{ sum_last_days("signal_key = 'checkout_started'", 'n_events', 30) }} as checkouts_started_30d
    from raw_signals
    where signal_type = 'event_type'
    group by lead_id

),

order_summary as (

    select
        lead_id,
        sum(case when counts_as_purchase then 1 else 0 end) as completed_orders,
        sum(case when order_status = 'refunded' then 1 else 0 end) as refunded_orders,
        sum(case when order_status = 'cancelled' then 1 else 0 end) as cancelled_orders,
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
        max(carts.last_add_at) as last_abandoned_cart_at
    from carts
    where carts.is_abandoned
    group by carts.lead_id

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        cast(coalesce(cart_activity.cart_adds_30d, 0) as integer) as cart_adds_30d,
        cast(coalesce(cart_activity.checkouts_started_30d, 0) as integer) as checkouts_started_30d,
        cast(coalesce(abandoned.abandoned_carts, 0) as integer) as abandoned_carts,
        abandoned.last_abandoned_cart_at,
        {{ days_before_as_of('abandoned.last_abandoned_cart_at') }} as days_since_abandoned_cart,
        coalesce(
            abandoned.last_abandoned_cart_at >= {{ as_of_date_minus(var('abandoned_cart_open_days')) }}
            and (
                order_summary.last_order_at is null
                or order_summary.last_order_at < abandoned.last_abandoned_cart_at
            ),
            false
        ) as has_open_abandoned_cart,
        cast(coalesce(order_summary.completed_orders, 0) as integer) as completed_orders,
        cast(coalesce(order_summary.refunded_orders, 0) as integer) as refunded_orders,
        cast(coalesce(order_summary.cancelled_orders, 0) as integer) as cancelled_orders,
        order_summary.first_order_at,
        order_summary.last_order_at,
        {{ days_before_as_of('order_summary.last_order_at') }} as days_since_last_order,
        coalesce(order_summary.lifetime_value_eur, 0) as lifetime_value_eur,
        case
            when coalesce(order_summary.completed_orders, 0) >= 2 then 'repeat'
            when coalesce(order_summary.completed_orders, 0) = 1 then 'first_time'
            else 'none'
        end as buyer_type,
        rfm.rfm_recency_quintile,
        rfm.rfm_frequency_quintile,
        rfm.rfm_monetary_quintile,
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
