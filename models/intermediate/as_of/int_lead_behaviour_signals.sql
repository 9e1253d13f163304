-- The behaviour signals of a lead at as_of priced per day, in one shape (lead, day, signal
-- type, key, units), ready for rules/scoring_rules. The event signals (event types, page
-- types, categories, searches, activity) are those of the days from the decay anchor on:
-- the earlier days are in the carried state (int_lead_rule_state), and the return days to
-- the most viewed product in int_lead_product_views. Besides the event signals it derives:
--   activity/session and activity/active_day  - sessions per day, 1 per active day
--   recency/last_visit                        - 1 unit on the day of the last web visit
--   order/completed, order/value_per_100_eur  - orders that count as purchases (and their value)
--   order/refunded, order/cancelled           - on the day the status changed
--   cart/abandoned                            - 1 unit per abandoned cart, on its last add's day
--   order_count/completed_orders              - orders so far (priced by rules/repeat_purchase_points)
with

-- Each CTE below reads the int_lead_signals_as_of view with its own filter: a CTE read
-- twice is materialised whole by DuckDB, so no filter would reach the view's scan.
event_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        activity_date >= {{ decay_anchor_date() }}
        and signal_type in ('event_type', 'page_type', 'category', 'search')

),

session_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        activity_date >= {{ decay_anchor_date() }}
        and signal_type = 'session'

),

activity as (

    select * from {{ ref('int_lead_activity_as_of') }}

),

orders as (

    select * from {{ ref('int_orders_as_of') }}

),

carts as (

    select * from {{ ref('int_lead_carts') }}

),

event_signals as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        cast(n_events as {{ dbt.type_float() }}) as units
    from event_signal_days

),

sessions_per_day as (

    select
        lead_id,
        activity_date,
        count(*) as n_sessions
    from session_signal_days
    group by lead_id, activity_date

),

activity_signals as (

    select
        lead_id,
        activity_date,
        'activity' as signal_type,
        'session' as signal_key,
        cast(n_sessions as {{ dbt.type_float() }}) as units
    from sessions_per_day
    union all
    select
        lead_id,
        activity_date,
        'activity' as signal_type,
        'active_day' as signal_key,
        1.0 as units
    from sessions_per_day
    union all
    select
        lead_id,
        last_visit_date as activity_date,
        'recency' as signal_type,
        'last_visit' as signal_key,
        1.0 as units
    from activity
    where last_visit_date is not null

),

purchases_per_day as (

    -- one pass over the orders that count as purchases: count and value per lead and day
    select
        lead_id,
        cast(ordered_at as date) as activity_date,
        cast(count(*) as {{ dbt.type_float() }}) as n_orders,
        cast(sum(amount_eur) as {{ dbt.type_float() }}) / 100.0 as value_per_100_eur
    from orders
    where counts_as_purchase
    group by lead_id, cast(ordered_at as date)

),

order_signals as (

    select
        lead_id,
        activity_date,
        'order' as signal_type,
        'completed' as signal_key,
        n_orders as units
    from purchases_per_day
    union all
    select
        lead_id,
        activity_date,
        'order' as signal_type,
        'value_per_100_eur' as signal_key,
        value_per_100_eur as units
    from purchases_per_day
    union all
    select
        lead_id,
        cast(status_since as date) as activity_date,
        'order' as signal_type,
        order_status as signal_key,
        cast(count(*) as {{ dbt.type_float() }}) as units
    from orders
    where not counts_as_purchase
    group by lead_id, cast(status_since as date), order_status

),

order_count_signals as (

    select
        lead_id,
        max(cast(ordered_at as date)) as activity_date,
        'order_count' as signal_type,
        'completed_orders' as signal_key,
        cast(count(*) as {{ dbt.type_float() }}) as units
    from orders
    where counts_as_purchase
    group by lead_id

),

cart_signals as (

    select
        lead_id,
        cast(last_add_at as date) as activity_date,
        'cart' as signal_type,
        'abandoned' as signal_key,
        1.0 as units
    from carts
    where is_abandoned

),

final as (

    select * from event_signals
    union all
    select * from activity_signals
    union all
    select * from order_signals
    union all
    select * from order_count_signals
    union all
    select * from cart_signals

)

select * from final
