-- Interest per lead and product category at as_of: every event carrying the category
-- (category and product views, cart adds and removals, purchases), decayed with the
-- half-life of var('category_interest_action_group'), its share of the lead's interest
-- and its rank.
with

signals as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'category'

),

half_life as (

    select half_life_days from {{ ref('decay_half_lives') }}
    where action_group = '{{ var("category_interest_action_group") }}'

),

per_category as (

    select
        signals.lead_id,
        signals.signal_key as product_category,
        sum(signals.n_events) as events_total,
        {{ sum_last_days('1 = 1', 'signals.n_events', var('medium_window_days'), 'signals.activity_date') }} as events_medium,
        max(signals.last_at) as last_event_at,
        round(sum(
            signals.n_events
            * coalesce({{ decay_factor(days_before_as_of('signals.activity_date'), 'half_life.half_life_days') }}, 1.0)
        ), 6) as interest_points
    from signals
    left join half_life
        on 1 = 1
    group by signals.lead_id, signals.signal_key

),

final as (

    select
        lead_id,
        product_category,
        cast(events_total as integer) as events_total,
        cast(events_medium as integer) as events_medium,
        last_event_at,
        interest_points,
        round(interest_points / sum(interest_points) over (partition by lead_id), 6) as interest_share,
        cast(round(100.0 * (1 - exp(-1.0 * interest_points / {{ var('category_interest_saturation') }})), 0) as integer)
            as interest_score,
        cast(row_number() over (
            partition by lead_id
            order by interest_points desc, product_category asc
        ) as integer) as interest_rank
    from per_category

)

select * from final
