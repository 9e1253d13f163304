-- Carried state of product views, one row per lead and viewed product: the days before
-- the decay anchor (macros/decay_state.sql). A repeat view day is a day with views of the
-- product after the lead's first day with views of it; the repeat days are also summed
-- decayed to the anchor with the half-life of the action group of the `focus` rules of
-- rules/scoring_rules (they price the return days to the most viewed product).
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

view_days as (

    select
        facts.lead_id,
        facts.signal_key as product_id,
        facts.activity_date,
        sum(facts.n_events) as n_views
    from {{ ref('int_lead_daily_signals') }} as facts
    where
        facts.signal_type = 'product'
        and {{ decay_state_facts_to_read(plan) }}
    group by facts.lead_id, facts.signal_key, facts.activity_date

),

focus_half_life as (

    {{ focus_half_life() }}

),

carried as (

    {% if plan.mode == 'full' -%}
        select
            lead_id,
            product_id,
            cast(null as bigint) as view_days,
            cast(null as bigint) as n_views,
            cast(null as date) as first_view_date,
            cast(null as date) as last_view_date,
            cast(null as bigint) as repeat_view_days,
            cast(null as {{ dbt.type_float() }}) as decayed_repeat_view_days
        from view_days
        where 1 = 0
    {%- else -%}
        select
            carried.lead_id,
            carried.product_id,
            carried.view_days,
            carried.n_views,
            carried.first_view_date,
            carried.last_view_date,
            carried.repeat_view_days,
            carried.decayed_repeat_view_days
            * {{ decay_between("cast('" ~ plan.previous_anchor ~ "' as date)", decay_anchor_date(), 'focus_half_life.half_life_days') }}
            as decayed_repeat_view_days
        from {{ this }} as carried
        cross join focus_half_life
        where {{ decay_state_rows_to_carry(plan) }}
    {%- endif %}

),

first_views as (

    select
        lead_id,
        product_id,
        min(first_view_date) as first_view_date
    from (
        select
            lead_id,
            product_id,
            first_view_date
        from carried
        union all
        select
            lead_id,
            product_id,
            activity_date as first_view_date
        from view_days
    ) as candidates
    group by lead_id, product_id

),

fresh as (

    select
        view_days.lead_id,
        view_days.product_id,
        count(*) as view_days,
        sum(view_days.n_views) as n_views,
        min(view_days.activity_date) as first_view_date,
        max(view_days.activity_date) as last_view_date,
        sum(case when view_days.activity_date > first_views.first_view_date then 1 else 0 end)
            as repeat_view_days,
        sum(
            case
                when view_days.activity_date > first_views.first_view_date
                    then {{ decay_between('view_days.activity_date', decay_anchor_date(), 'focus_half_life.half_life_days') }}
                else 0
            end
        ) as decayed_repeat_view_days
    from view_days
    inner join first_views
        on
            view_days.lead_id = first_views.lead_id
            and view_days.product_id = first_views.product_id
    cross join focus_half_life
    group by view_days.lead_id, view_days.product_id

),

final as (

    select
        lead_id,
        product_id,
        cast({{ merge_state('sum', 'view_days', plan) }} as bigint) as view_days,
        cast({{ merge_state('sum', 'n_views', plan) }} as bigint) as n_views,
        {{ merge_state('min', 'first_view_date', plan) }} as first_view_date,
        {{ merge_state('max', 'last_view_date', plan) }} as last_view_date,
        cast({{ merge_state('sum', 'repeat_view_days', plan) }} as bigint) as repeat_view_days,
        {{ merge_state('sum', 'decayed_repeat_view_days', plan) }} as decayed_repeat_view_days,
        {{ decay_state_columns(inputs_checksum) }}
    from (
        select * from carried
        union all
        select * from fresh
    ) as combined
    {% if plan.mode == 'roll' -%}
        group by lead_id, product_id
    {%- endif %}

)

select * from final
