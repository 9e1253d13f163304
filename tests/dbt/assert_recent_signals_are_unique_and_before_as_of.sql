-- int_lead_signals_as_of (a view) on the days from the decay anchor on: one row per lead,
-- day, signal type and key, and nothing at or after as_of. Returns the offending rows.
{{ config(meta={'dagster': {'ref': {'name': 'int_lead_signals_as_of'}}}) }}

with

recent as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where activity_date >= {{ decay_anchor_date() }}

),

duplicated as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        'duplicate' as problem
    from recent
    group by lead_id, activity_date, signal_type, signal_key
    having count(*) > 1

),

too_late as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        'at or after as_of' as problem
    from recent
    where last_at >= {{ as_of() }}

),

final as (

    select * from duplicated
    union all
    select * from too_late

)

select * from final
