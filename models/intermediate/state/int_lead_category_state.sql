-- Carried state of category interest, one row per lead and product category: the events
-- carrying the category on the days before the decay anchor (macros/decay_state.sql),
-- counted, their latest time, and summed decayed to the anchor with the half-life of
-- var('category_interest_action_group') (as int_lead_category_interest).
-- depends_on: {{ ref('int_events_sessionized') }}, {{ ref('int_identity_links') }}
{%- set inputs_checksum = decay_state_inputs_checksum(['decay_half_lives'], ['category_interest_action_group']) %}
{%- set plan = decay_state_plan(inputs_checksum) %}
{{ config(
    materialized='incremental',
    incremental_strategy=state_strategy(),
    partition_by=state_partition_by(),
    unique_key='_state_partition',
    on_schema_change='fail',
    pre_hook="{{ truncate_state_on_rebuild(['decay_half_lives'], ['category_interest_action_group']) }}",
) }}

with

{% if plan.mode != 'full' -%}
changed_leads as (

    {{ decay_state_changed_leads(plan) }}

),
{%- endif %}

half_life as (

    {{ category_interest_half_life() }}

),

fresh as (

    select
        facts.lead_id,
        facts.signal_key as product_category,
        sum(facts.n_events) as n_events,
        max(facts.last_at) as last_event_at,
        sum(
            facts.n_events
            * {{ decay_between('facts.activity_date', decay_anchor_date(), 'half_life.half_life_days') }}
        ) as decayed_events
    from {{ ref('int_lead_daily_signals') }} as facts
    cross join half_life
    where
        facts.signal_type = 'category'
        and {{ decay_state_facts_to_read(plan) }}
    group by facts.lead_id, facts.signal_key

),

carried as (

    {% if plan.mode == 'full' -%}
        select * from fresh
        where 1 = 0
    {%- else -%}
        select
            carried.lead_id,
            carried.product_category,
            carried.n_events,
            carried.last_event_at,
            carried.decayed_events
            * {{ decay_between("cast('" ~ plan.previous_anchor ~ "' as date)", decay_anchor_date(), 'half_life.half_life_days') }}
            as decayed_events
        from {{ this }} as carried
        cross join half_life
        where {{ decay_state_rows_to_carry(plan) }}
    {%- endif %}

),

final as (

    select
        lead_id,
        product_category,
        cast({{ merge_state('sum', 'n_events', plan) }} as bigint) as n_events,
        {{ merge_state('max', 'last_event_at', plan) }} as last_event_at,
        {{ merge_state('sum', 'decayed_events', plan) }} as decayed_events,
        {{ decay_state_columns(inputs_checksum) }}
    from (
        select * from carried
        union all
        select * from fresh
    ) as combined
    {% if plan.mode == 'roll' -%}
        group by lead_id, product_category
    {%- endif %}

)

select * from final
