{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='event_id',
    on_schema_change='fail',
) }}

-- Good events with the lead they belong to (directly or through identity stitching)
-- and a session: the delivered session_id, or one derived from a gap of inactivity
-- longer than var('session_timeout_minutes') per visitor. Session boundaries depend
-- only on earlier events, so the derivation is the same at any as_of.
-- Incremental: a new (or late) event makes every event of its visitor be recomputed
-- (its sessions, and the attribution of an anonymous history newly linked to a lead).
{#- the events to (re)compute: all of them, or every event of the visitors with new events -#}
{% set visitors_to_recompute %}
    {% if is_incremental() %}
        where coalesce(anonymous_id, lead_id) in (
            select coalesce(new_events.anonymous_id, new_events.lead_id)
            from {{ ref('stg_landing__events') }} as new_events
            where new_events._processed_batch > {{ watermark() }}
        )
    {% endif %}
{% endset %}
with

events as (

    select * from {{ ref('stg_landing__events') }}
    {{ visitors_to_recompute }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

resolved as (

    select
        events.*,
        coalesce(events.lead_id, links.lead_id) as resolved_lead_id,
        case when events.lead_id is null then links.linked_at end as identity_linked_at,
        coalesce(events.anonymous_id, events.lead_id) as visitor_id
    from events
    left join links
        on events.anonymous_id = links.anonymous_id

),

-- Sessions are numbered over four narrow columns read by a scan of their own, then
-- joined back by event_id: the window functions never carry (or spill) the wide rows.
gaps as (

    select
        event_id,
        visitor_id,
        is_web_event,
        occurred_at,
        case
            when not is_web_event then 0
            when
                lag(occurred_at) over (
                    partition by visitor_id, is_web_event
                    order by occurred_at, event_id
                ) is null
                then 1
            when
                {{ dbt.datediff(
                    "lag(occurred_at) over (partition by visitor_id, is_web_event order by occurred_at, event_id)",
                    'occurred_at', 'second') }}
                > {{ var('session_timeout_minutes') }} * 60
                then 1
            else 0
        end as starts_session
    from (
        select
            event_id,
            coalesce(anonymous_id, lead_id) as visitor_id,
            is_web_event,
            occurred_at
        from {{ ref('stg_landing__events') }}
        {{ visitors_to_recompute }}
    ) as narrow_events

),

session_numbers as (

    select
        event_id,
        sum(starts_session) over (
            partition by visitor_id, is_web_event
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from gaps

),

numbered as (

    select
        resolved.*,
        session_numbers.session_number
    from resolved
    inner join session_numbers
        on resolved.event_id = session_numbers.event_id

),

final as (

    select
        event_id,
        occurred_at,
        lead_id,
        anonymous_id,
        resolved_lead_id,
        identity_linked_at,
        visitor_id,
        case
            when is_web_event
                then coalesce(
                    source_session_id,
                    {{ dbt.concat(["visitor_id", "'#'", "cast(session_number as " ~ dbt.type_string() ~ ")"]) }}
                )
        end as session_id,
        source_session_id is null and is_web_event as is_derived_session,
        event_type,
        action_group,
        is_web_event,
        page_url,
        page_path,
        page_type,
        case
            -- the store is the path segment after var('store_path_prefix'), e.g. /stores/<id>/...
            when page_type = 'store_hours' and page_path like '{{ var("store_path_prefix") }}%'
                then nullif({{ dbt.split_part(
                    "substring(page_path, " ~ (var('store_path_prefix') | length + 1) ~ ")", "'/'", 1) }}, '')
        end as store_id,
        product_id,
        product_category,
        search_query,
        _batch_id,
        {{ newest_processed_batch(ref('stg_landing__events')) }} as _processed_batch
    from numbered

)

{{ upserted_rows('final') }}
