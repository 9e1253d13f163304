-- The compact aggregate the scores read: per lead, per day, per signal (event type,
-- page type, category, product view, search terms, store page, session) the number of
-- events and the first / last time. identity_linked_at is kept in the key so that
-- history stitched to a lead only counts from the moment of the link.
-- Incremental: every (lead, day) touched by re-processed events is recomputed whole,
-- including the days of a lead that lost an anonymous history to a moved link.
-- depends_on: {{ ref('int_identity_links') }}
{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key=['lead_id', 'activity_date'],
    on_schema_change='fail',
    pre_hook="{{ delete_relinked_lead_days() }}",
) }}

with

{% if is_incremental() %}
touched_lead_days as (

    select
        resolved_lead_id,
        cast(occurred_at as date) as activity_date
    from {{ ref('int_events_sessionized') }}
    where
        _processed_batch > {{ watermark() }}
        and resolved_lead_id is not null
    union
    -- a link moved by a late event: the lead that had the anonymous history loses it
    -- (the pre-hook deleted those lead-days; whatever else they hold is recomputed here)
    select
        lead_id as resolved_lead_id,
        activity_date
    from ({{ relinked_lead_days() }}) as relinked

),

events as (

    select sessionized.*
    from {{ ref('int_events_sessionized') }} as sessionized
    inner join touched_lead_days
        on
            sessionized.resolved_lead_id = touched_lead_days.resolved_lead_id
            and cast(sessionized.occurred_at as date) = touched_lead_days.activity_date

),
{% else %}
    events as (

        select * from {{ ref('int_events_sessionized') }}

    ),
{% endif %}

signal_kinds as (

    {{ signal_kinds() }}

),

fanned_out as (

    -- one row per event and signal kind it counts under (one scan of the events)
    select
        events.resolved_lead_id as lead_id,
        cast(events.occurred_at as date) as activity_date,
        events.identity_linked_at,
        events.occurred_at,
        kinds.signal_type,
        {{ signal_key_of('events', 'kinds.signal_type') }} as signal_key
    from events
    cross join signal_kinds as kinds
    where events.resolved_lead_id is not null

),

signals as (

    select
        lead_id,
        activity_date,
        identity_linked_at,
        signal_type,
        signal_key,
        count(*) as n_events,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at
    from fanned_out
    where signal_key is not null
    group by lead_id, activity_date, identity_linked_at, signal_type, signal_key

),

final as (

    select
        signals.*,
        {{ newest_processed_batch(ref('int_events_sessionized')) }} as _processed_batch
    from signals

)

{{ upserted_rows('final', replaced_keys='select resolved_lead_id as lead_id, activity_date from touched_lead_days') }}
