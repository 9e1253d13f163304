-- Carried state of a lead's site activity, one row per lead with events on the days
-- before the decay anchor (macros/decay_state.sql): the last day with events, the last
-- day with a web session, and the latest subscribe, unsubscribe and bounced e-mail.
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
        max(facts.activity_date) as last_active_date,
        max(case when facts.signal_type = 'session' then facts.activity_date end) as last_visit_date,
        max(case when facts.signal_type = 'event_type' and facts.signal_key = 'subscribe' then facts.last_at end)
            as last_subscribed_at,
        max(case when facts.signal_type = 'event_type' and facts.signal_key = 'unsubscribe' then facts.last_at end)
            as last_unsubscribed_at,
        max(case when facts.signal_type = 'event_type' and facts.signal_key = 'email_bounce' then facts.last_at end)
            as last_bounced_at
    from {{ ref('int_lead_daily_signals') }} as facts
    where {{ decay_state_facts_to_read(plan) }}
    group by facts.lead_id

),

carried as (

    {% if plan.mode == 'full' -%}
        select * from fresh
        where 1 = 0
    {%- else -%}
        select
            carried.lead_id,
            carried.last_active_date,
            carried.last_visit_date,
            carried.last_subscribed_at,
            carried.last_unsubscribed_at,
            carried.last_bounced_at
        from {{ this }} as carried
        where {{ decay_state_rows_to_carry(plan) }}
    {%- endif %}

),

final as (

    select
        lead_id,
        {{ merge_state('max', 'last_active_date', plan) }} as last_active_date,
        {{ merge_state('max', 'last_visit_date', plan) }} as last_visit_date,
        {{ merge_state('max', 'last_subscribed_at', plan) }} as last_subscribed_at,
        {{ merge_state('max', 'last_unsubscribed_at', plan) }} as last_unsubscribed_at,
        {{ merge_state('max', 'last_bounced_at', plan) }} as last_bounced_at,
        {{ decay_state_columns(inputs_checksum) }}
    from (
        select * from carried
        union all
        select * from fresh
    ) as combined
    {% if plan.mode == 'roll' -%}
        group by lead_id
    {%- endif %}

)

select * from final
