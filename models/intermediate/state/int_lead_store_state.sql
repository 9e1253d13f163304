-- Carried state of store-page views, one row per lead and store: the views of the store's
-- pages on the days before the decay anchor (macros/decay_state.sql) and the latest.
-- depends_on: {{ ref('int_events_sessionized') }}, {{ ref('int_identity_links') }}
{%- set inputs_checksum = decay_state_inputs_checksum() %}
{%- set plan = decay_state_plan(inputs_checksum) %}
{{ config(
    materialized='incremental',
    incremental_strategy=state_strategy(),
    partition_by=state_partition_by(),
    unique_key='_state_partition',
    on_schema_change='fail',
    pre_hook="{{ truncate_state_on_rebuild() }}",
) }}

with

{% if plan.mode != 'full' -%}
changed_leads as (

    {{ decay_state_changed_leads(plan) }}

),
{%- endif %}

fresh as (

    select
        facts.lead_id,
        facts.signal_key as store_id,
        sum(facts.n_events) as n_views,
        max(facts.last_at) as last_viewed_at
    from {{ ref('int_lead_daily_signals') }} as facts
    where
        facts.signal_type = 'store'
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
            carried.store_id,
            carried.n_views,
            carried.last_viewed_at
        from {{ this }} as carried
        where {{ decay_state_rows_to_carry(plan) }}
    {%- endif %}

),

final as (

    select
        lead_id,
        store_id,
        cast({{ merge_state('sum', 'n_views', plan) }} as bigint) as n_views,
        {{ merge_state('max', 'last_viewed_at', plan) }} as last_viewed_at,
        {{ decay_state_columns(inputs_checksum) }}
    from (
        select * from carried
        union all
        select * from fresh
    ) as combined
    {% if plan.mode == 'roll' -%}
        group by lead_id, store_id
    {%- endif %}

)

select * from final
