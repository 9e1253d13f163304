-- Interest per lead and product category at as_of: every event carrying the category
-- (category and product views, cart adds and removals, purchases), decayed with the
-- half-life of var('category_interest_action_group'), its share of the lead's interest
-- and its rank. The days before the decay anchor come from the carried state
-- (int_lead_category_state, decayed to the anchor and rescaled here to as_of), the later
-- days from int_lead_signals_as_of.
with

state as (

    select * from {{ ref('int_lead_category_state') }}

),

signals as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'category'

),

half_life as (

    {{ category_interest_half_life() }}

),

recent as (

    select
        signals.lead_id,
        signals.signal_key as product_category,
        sum(case when signals.activity_date >= {{ decay_anchor_date() }} then signals.n_events else 0 end)
            as events_total,
        {{ sum_last_days('1 = 1', 'signals.n_events', var('medium_window_days'), 'signals.activity_date') }} as events_medium,
        max(case when signals.activity_date >= {{ decay_anchor_date() }} then signals.last_at end) as last_event_at,
        sum(
            case
                when signals.activity_date >= {{ decay_anchor_date() }}
                    then
                        signals.n_events
                        * {{ decay_between('signals.activity_date', as_of_date(), 'half_life.half_life_days') }}
                else 0
            end
        ) as interest_points
    from signals
    cross join half_life
    group by signals.lead_id, signals.signal_key

),

carried as (

    select
        state.lead_id,
        state.product_category,
        state.n_events as events_total,
        0 as events_medium,
        state.last_event_at,
        state.decayed_events
        * {{ decay_between('state.anchor_date', as_of_date(), 'half_life.half_life_days') }} as interest_points
    from state
    cross join half_life

),

per_category as (

    select
        lead_id,
        product_category,
        sum(events_total) as events_total,
        sum(events_medium) as events_medium,
        max(last_event_at) as last_event_at,
        {{ round_decayed('sum(interest_points)') }} as interest_points
    from (
        select * from carried
        union all
        select * from recent
    ) as combined
    group by lead_id, product_category

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
