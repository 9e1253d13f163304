-- Carried state of the rule points, one row per lead and rule priced per day from events
-- (rules/scoring_rules of signal types event_type, page_type, category, search and
-- activity): the days before the decay anchor, each day's points capped per day
-- (least(units, max_units_per_day) * points_per_unit) and decayed to the anchor with the
-- half-life of the rule's action group. The cap per rule applies at as_of, after the sum
-- (int_behaviour_rule_points). How the state moves with as_of: macros/decay_state.sql.
-- depends_on: {{ ref('int_events_sessionized') }}, {{ ref('int_identity_links') }}
{%- set inputs_checksum = decay_state_inputs_checksum(['scoring_rules', 'decay_half_lives']) %}
{%- set plan = decay_state_plan(inputs_checksum) %}
{{ config(
    materialized='incremental',
    incremental_strategy=state_strategy(),
    partition_by=state_partition_by(),
    unique_key='_state_partition',
    on_schema_change='fail',
    pre_hook="{{ truncate_state_on_rebuild(['scoring_rules', 'decay_half_lives']) }}",
) }}

with

{% if plan.mode != 'full' -%}
changed_leads as (

    {{ decay_state_changed_leads(plan) }}

),
{%- endif %}

facts as (

    select
        facts.lead_id,
        facts.activity_date,
        facts.signal_type,
        facts.signal_key,
        sum(facts.n_events) as n_events
    from {{ ref('int_lead_daily_signals') }} as facts
    where
        facts.signal_type in ('event_type', 'page_type', 'category', 'search', 'session')
        and {{ decay_state_facts_to_read(plan) }}
    group by facts.lead_id, facts.activity_date, facts.signal_type, facts.signal_key

),

rules as (

    select
        rules.*,
        half_lives.half_life_days
    from {{ ref('scoring_rules') }} as rules
    left join {{ ref('decay_half_lives') }} as half_lives
        on rules.action_group = half_lives.action_group
    where rules.signal_type in ('event_type', 'page_type', 'category', 'search', 'activity')

),

daily_units as (

    select
        lead_id,
        activity_date,
        signal_type,
        signal_key,
        cast(n_events as {{ dbt.type_float() }}) as units
    from facts
    where signal_type <> 'session'
    union all
    select
        lead_id,
        activity_date,
        'activity' as signal_type,
        'session' as signal_key,
        cast(count(*) as {{ dbt.type_float() }}) as units
    from facts
    where signal_type = 'session'
    group by lead_id, activity_date
    union all
    select
        lead_id,
        activity_date,
        'activity' as signal_type,
        'active_day' as signal_key,
        1.0 as units
    from facts
    where signal_type = 'session'
    group by lead_id, activity_date

),

matched as (

    -- as in int_behaviour_rule_points: exact keys on equality, LIKE patterns apart
    select
        daily_units.lead_id,
        daily_units.activity_date,
        daily_units.units,
        rules.rule_id
    from daily_units
    inner join rules
        on
            daily_units.signal_type = rules.signal_type
            and daily_units.signal_key = rules.key_pattern
    where rules.key_match = 'exact'
    union all
    select
        daily_units.lead_id,
        daily_units.activity_date,
        daily_units.units,
        rules.rule_id
    from daily_units
    inner join rules
        on
            daily_units.signal_type = rules.signal_type
            and daily_units.signal_key like rules.key_pattern
    where rules.key_match = 'like'

),

fresh as (

    select
        per_day.lead_id,
        per_day.rule_id,
        sum(per_day.units) as units,
        sum(
            least(per_day.units, rules.max_units_per_day) * rules.points_per_unit
            * {{ decay_between('per_day.activity_date', decay_anchor_date(), 'rules.half_life_days') }}
        ) as decayed_points
    from (
        -- a LIKE rule matching several terms of one day is capped once for that day
        select
            lead_id,
            activity_date,
            rule_id,
            sum(units) as units
        from matched
        group by lead_id, activity_date, rule_id
    ) as per_day
    inner join rules
        on per_day.rule_id = rules.rule_id
    group by per_day.lead_id, per_day.rule_id

),

carried as (

    {% if plan.mode == 'full' -%}
        select
            lead_id,
            rule_id,
            units,
            decayed_points
        from fresh
        where 1 = 0
    {%- else -%}
        select
            carried.lead_id,
            carried.rule_id,
            carried.units,
            carried.decayed_points
            * {{ decay_between("cast('" ~ plan.previous_anchor ~ "' as date)", decay_anchor_date(), 'rules.half_life_days') }}
            as decayed_points
        from {{ this }} as carried
        inner join rules
            on carried.rule_id = rules.rule_id
        where {{ decay_state_rows_to_carry(plan) }}
    {%- endif %}

),

final as (

    select
        lead_id,
        rule_id,
        {{ merge_state('sum', 'units', plan) }} as units,
        {{ merge_state('sum', 'decayed_points', plan) }} as decayed_points,
        {{ decay_state_columns(inputs_checksum) }}
    from (
        select * from carried
        union all
        select * from fresh
    ) as combined
    {% if plan.mode == 'roll' -%}
        group by lead_id, rule_id
    {%- endif %}

)

select * from final
