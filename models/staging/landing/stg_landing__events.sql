{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='event_id',
    on_schema_change='fail',
) }}

-- Good events, one row per event_id: typed, UTC, page type completed from the URL.
-- The events are read once (a CTE read twice is materialised: a copy of every event);
-- URL paths and page-type rules are worked out once per distinct URL.
with

events as (

    select * from {{ ref('base_landing__events') }}
    where
        quarantine_reason is null
    {% if is_incremental() %}
            and _processed_batch > {{ watermark() }}
        {% endif %}

),

event_types as (

    select * from {{ ref('event_types') }}

),

page_types as (

    select page_type from {{ ref('page_types') }}

),

page_type_rules as (

    select * from {{ ref('page_type_rules') }}

),

urls as (

    -- every distinct URL of the events, its path computed once (a scan of its own over
    -- two columns); rules are matched only for URLs seen without a known page type
    select
        page_url,
        {{ url_path('page_url') }} as page_path,
        needs_rule
    from (
        select
            new_events.page_url,
            {{ dbt.bool_or('page_types.page_type is null') }} as needs_rule
        from {{ ref('base_landing__events') }} as new_events
        left join page_types
            on new_events.source_page_type = page_types.page_type
        where
            new_events.quarantine_reason is null
            and new_events.page_url is not null
        {% if is_incremental() %}
                and new_events._processed_batch > {{ watermark() }}
            {% endif %}
        group by new_events.page_url
    ) as distinct_urls

),

rule_matches as (

    -- the page type of a URL is the first rule (lowest priority number) its path matches
    select
        urls.page_url,
        page_type_rules.page_type,
        row_number() over (
            partition by urls.page_url
            order by page_type_rules.rule_priority
        ) as match_rank
    from urls
    inner join page_type_rules
        on urls.page_path like page_type_rules.path_pattern
    where urls.needs_rule

),

final as (

    select
        events.event_id,
        events.occurred_at,
        events.lead_id,
        events.anonymous_id,
        events.source_session_id,
        events.event_type,
        event_types.action_group,
        event_types.is_web_event,
        events.page_url,
        urls.page_path,
        coalesce(
            page_types.page_type,
            rule_matches.page_type,
            event_types.implied_page_type,
            case when events.page_url is not null then 'other' end
        ) as page_type,
        events.product_id,
        events.product_category,
        events.search_query,
        events._ingest_seq,
        events._batch_id,
        events._source_file,
        events._loaded_at,
        events._processed_batch
    from events
    inner join event_types
        on events.event_type = event_types.event_type
    left join page_types
        on events.source_page_type = page_types.page_type
    left join urls
        on events.page_url = urls.page_url
    -- an equality on an expression (not extra conditions on the left side) keeps this a hash join
    left join rule_matches
        on
            case when page_types.page_type is null then events.page_url end = rule_matches.page_url
            and rule_matches.match_rank = 1

)

{{ upserted_rows('final') }}
