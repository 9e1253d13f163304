{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='event_id',
    on_schema_change='append_new_columns',
) }}

-- Good events with the lead they belong to (directly or through identity stitching)
-- and a session: the delivered session_id, or one derived from a gap of inactivity
-- longer than var('session_timeout_minutes') per visitor. Session boundaries depend
-- only on earlier events, so the derivation is the same at any as_of.
-- Incremental: a visitor's events before its earliest new (late, or delivered again)
-- event keep their sessions; the events from there on are renumbered, continuing from
-- the last earlier web event (its time and session_number). A visitor's whole history is
-- recomputed when the link it was stitched with changed (a new or moved link: the
-- attribution of every anonymous event changes) or when an earlier web event has no
-- session_number (rows written before the column existed). So a day's refresh rewrites
-- that day's events, not the history of everyone active that day.
{#- a table written before session_number existed: every earlier web event is unnumbered -#}
{%- set earlier_session_number = 'existing.session_number' -%}
{%- if execute and is_incremental() -%}
    {%- set existing_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if 'session_number' not in existing_columns -%}
        {%- set earlier_session_number = 'cast(null as ' ~ dbt.type_bigint() ~ ')' -%}
    {%- endif -%}
{%- endif %}
with

{% if is_incremental() %}
new_events as (

    -- events staged since this table's watermark: new, late or delivered again
    select
        event_id,
        coalesce(anonymous_id, lead_id) as visitor_id,
        occurred_at
    from {{ ref('stg_landing__events') }}
    where _processed_batch > {{ watermark() }}

),

changed_positions as (

    select
        visitor_id,
        occurred_at
    from new_events
    union all
    -- where an event delivered again sat before (its new copy may have moved)
    select
        existing.visitor_id,
        existing.occurred_at
    from {{ this }} as existing
    inner join new_events
        on existing.event_id = new_events.event_id

),

changed_visitors as (

    select
        visitor_id,
        min(occurred_at) as changed_from
    from changed_positions
    group by visitor_id

),

earlier_events as (

    -- per changed visitor, its events before the change: the last web event (time and
    -- session number: numbers never decrease in time), web events without a number, and
    -- anonymous events whose stitching the current links no longer give
    select
        existing.visitor_id,
        max(case when existing.is_web_event then existing.occurred_at end) as last_web_event_at,
        max(case when existing.is_web_event then {{ earlier_session_number }} end) as last_session_number,
        sum(case when existing.is_web_event and {{ earlier_session_number }} is null then 1 else 0 end)
            as n_unnumbered,
        sum(
            case
                when existing.lead_id is not null then 0
                when existing.resolved_lead_id is null and links.lead_id is null then 0
                when
                    existing.resolved_lead_id = links.lead_id
                    and existing.identity_linked_at = links.linked_at
                    then 0
                else 1
            end
        ) as n_restitched
    from {{ this }} as existing
    inner join changed_visitors
        on existing.visitor_id = changed_visitors.visitor_id
    left join {{ ref('int_identity_links') }} as links
        on existing.anonymous_id = links.anonymous_id
    where existing.occurred_at < changed_visitors.changed_from
    group by existing.visitor_id

),

recomputed_visitors as (

    -- recompute_from null: the visitor's whole history
    select
        changed_visitors.visitor_id,
        case
            when coalesce(earlier_events.n_unnumbered, 0) = 0 and coalesce(earlier_events.n_restitched, 0) = 0
                then changed_visitors.changed_from
        end as recompute_from,
        case
            when coalesce(earlier_events.n_unnumbered, 0) = 0 and coalesce(earlier_events.n_restitched, 0) = 0
                then earlier_events.last_web_event_at
        end as previous_web_event_at,
        case
            when coalesce(earlier_events.n_unnumbered, 0) = 0 and coalesce(earlier_events.n_restitched, 0) = 0
                then coalesce(earlier_events.last_session_number, 0)
            else 0
        end as previous_session_number
    from changed_visitors
    left join earlier_events
        on changed_visitors.visitor_id = earlier_events.visitor_id

),
{% endif %}

{#- the staged events to (re)compute (alias `staged`), with where their visitor's
    numbering continues from: all events from scratch, or the recomputed part -#}
{% set events_to_compute %}
    {% if is_incremental() %}
        inner join recomputed_visitors
            on coalesce(staged.anonymous_id, staged.lead_id) = recomputed_visitors.visitor_id
        where
            recomputed_visitors.recompute_from is null
            or staged.occurred_at >= recomputed_visitors.recompute_from
    {% endif %}
{% endset %}
{% set continues_from %}
    {% if is_incremental() %}
        recomputed_visitors.previous_web_event_at,
        recomputed_visitors.previous_session_number
    {% else %}
        cast(null as {{ dbt.type_timestamp() }}) as previous_web_event_at,
        0 as previous_session_number
    {% endif %}
{% endset %}

events as (

    select staged.*
    from {{ ref('stg_landing__events') }} as staged
    {{ events_to_compute }}

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

-- Sessions are numbered over a few narrow columns read by a scan of their own, then
-- joined back by event_id: the window functions never carry (or spill) the wide rows.
gaps as (

    select
        event_id,
        visitor_id,
        is_web_event,
        occurred_at,
        previous_session_number,
        case
            when not is_web_event then 0
            when
                coalesce(
                    lag(occurred_at) over (partition by visitor_id, is_web_event order by occurred_at, event_id),
                    previous_web_event_at
                ) is null
                then 1
            when
                {{ dbt.datediff(
                    "coalesce(lag(occurred_at) over (partition by visitor_id, is_web_event order by occurred_at, event_id), previous_web_event_at)",
                    'occurred_at', 'second') }}
                > {{ var('session_timeout_minutes') }} * 60
                then 1
            else 0
        end as starts_session
    from (
        select
            staged.event_id,
            coalesce(staged.anonymous_id, staged.lead_id) as visitor_id,
            staged.is_web_event,
            staged.occurred_at,
            {{ continues_from }}
        from {{ ref('stg_landing__events') }} as staged
        {{ events_to_compute }}
    ) as narrow_events

),

session_numbers as (

    select
        event_id,
        case
            when is_web_event
                then cast(previous_session_number + sum(starts_session) over (
                    partition by visitor_id, is_web_event
                    order by occurred_at, event_id
                    rows between unbounded preceding and current row
                ) as {{ dbt.type_bigint() }})
        end as session_number
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
        session_number,
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
