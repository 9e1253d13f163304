{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
) }}

-- Good events, one row per event_id: typed, UTC, page type completed from the URL.
-- Every CTE is read once (a CTE read twice is materialised: a copy of every event).
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

with_path as (

    select
        events.*,
        {{ url_path('events.page_url') }} as page_path,
        page_types.page_type as known_source_page_type
    from events
    left join page_types
        on events.source_page_type = page_types.page_type

),

distinct_paths as (

    -- rules are matched once per distinct path, not once per event (a scan of its own
    -- over two columns, so that with_path is read once)
    select distinct {{ url_path('new_events.page_url') }} as page_path
    from {{ ref('base_landing__events') }} as new_events
    left join page_types
        on new_events.source_page_type = page_types.page_type
    where
        new_events.quarantine_reason is null
        and page_types.page_type is null
        and new_events.page_url is not null
    {% if is_incremental() %}
            and new_events._processed_batch > {{ watermark() }}
        {% endif %}

),

rule_matches as (

    -- the page type of a path is the first rule (lowest priority number) whose pattern matches
    select
        distinct_paths.page_path,
        page_type_rules.page_type,
        row_number() over (
            partition by distinct_paths.page_path
            order by page_type_rules.rule_priority
        ) as match_rank
    from distinct_paths
    inner join page_type_rules
        on distinct_paths.page_path like page_type_rules.path_pattern

),

final as (

    select
        with_path.event_id,
        with_path.occurred_at,
        with_path.lead_id,
        with_path.anonymous_id,
        with_path.source_session_id,
        with_path.event_type,
        event_types.action_group,
        event_types.is_web_event,
        with_path.page_url,
        with_path.page_path,
        coalesce(
            with_path.known_source_page_type,
            rule_matches.page_type,
            case with_path.event_type
                when 'product_view' then 'product'
                when 'category_view' then 'category'
                when 'search' then 'search'
                when 'checkout_started' then 'checkout'
                when 'add_to_cart' then 'cart'
            end,
            case when with_path.page_url is not null then 'other' end
        ) as page_type,
        with_path.product_id,
        with_path.product_category,
        with_path.search_query,
        with_path._ingest_seq,
        with_path._batch_id,
        with_path._source_file,
        with_path._loaded_at,
        with_path._processed_batch
    from with_path
    inner join event_types
        on with_path.event_type = event_types.event_type
    -- an equality on an expression (not extra conditions on the left side) keeps this a hash join
    left join rule_matches
        on
            case
                when with_path.known_source_page_type is null and with_path.page_url is not null
                    then with_path.page_path
            end = rule_matches.page_path
            and rule_matches.match_rank = 1

)

select * from final
