-- The recent signals of every lead before as_of, per day: the whole days from the earlier
-- of the decay anchor (macros/decay_state.sql: what lies before it is in the carried
-- state, models/intermediate/state/) and the longest window of the descriptive counts
-- (vars short/medium/long_window_days, local_intent_days), read from the compact daily
-- aggregate, plus the part of the as_of day before as_of straight from the events.
-- Stitched anonymous history counts only when the link itself happened before as_of.
-- A view: every reader takes its own signal types and days (a copy of ~90 days of the
-- daily aggregate cost more than all the readers' own scans).
{{ config(materialized='view') }}

with

whole_days as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        n_events,
        first_at,
        last_at
    from {{ ref('int_lead_daily_signals') }}
    where
        activity_date < {{ as_of_date() }}
        and activity_date >= {{ recent_signals_start_date() }}
        and (identity_linked_at is null or identity_linked_at < {{ as_of() }})

),

signal_kinds as (

    {{ signal_kinds() }}

),

as_of_day as (

    -- the events of the as_of day before as_of, one row per signal kind each counts under
    -- (int_lead_daily_signals' fan-out; `final` counts them)
    select
        events.resolved_lead_id as lead_id,
        cast(events.occurred_at as date) as activity_date,
        kinds.signal_type,
        {{ signal_key_of('events', 'kinds.signal_type') }} as signal_key,
        events.occurred_at
    from {{ ref('int_events_sessionized') }} as events
    cross join signal_kinds as kinds
    where
        events.resolved_lead_id is not null
        and events.occurred_at >= cast({{ as_of_date() }} as {{ dbt.type_timestamp() }})
        and events.occurred_at < {{ as_of() }}
        and (events.identity_linked_at is null or events.identity_linked_at < {{ as_of() }})

),

unioned as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        n_events,
        first_at,
        last_at
    from whole_days
    union all
    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        cast(1 as {{ dbt.type_bigint() }}) as n_events,
        occurred_at as first_at,
        occurred_at as last_at
    from as_of_day
    where signal_key is not null

),

final as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        sum(n_events) as n_events,
        min(first_at) as first_at,
        max(last_at) as last_at
    from unioned
    group by lead_id, activity_date, signal_type, signal_key

)

select * from final
