{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_ingest_seq',
    on_schema_change='fail',
) }}

-- Every landing event row, parsed, with the reason it must be quarantined (null = good).
-- stg_landing__events keeps the good rows, quarantined_rows the others: nothing is lost.
-- Incremental: the first delivery of an event wins, so a row's reason depends only on the
-- deliveries before it. Earlier deliveries of the keys a new batch repeats are read to
-- classify the new rows, but only the new rows are written: rows already classified
-- never change, and the table is appended to rather than rewritten in place.
with

source as (

    {{ landing_rows_to_process('events', 'event_id') }}

),

event_types as (

    select event_type from {{ ref('event_types') }}

),

parsed as (

    select
        nullif(trim(event_id), '') as event_id,
        {{ parse_timestamp_utc('occurred_at') }} as occurred_at,
        nullif(trim(lead_id), '') as lead_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        nullif(trim(session_id), '') as source_session_id,
        lower(trim(event_type)) as event_type,
        nullif(trim(page_url), '') as page_url,
        lower(nullif(trim(page_type), '')) as source_page_type,
        nullif(trim(product_id), '') as product_id,
        lower(nullif(trim(product_category), '')) as product_category,
        nullif(trim(search_query), '') as search_query,
        {{ row_fingerprint(landing_columns('events')) }} as row_fingerprint,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at
    from source

),

validated as (

    select
        parsed.*,
        case
            when parsed.event_id is null then 'missing_id'
            when parsed.occurred_at is null then 'unparseable_timestamp'
            when parsed.lead_id is null and parsed.anonymous_id is null
                then 'missing_lead_and_anonymous_id'
            when event_types.event_type is null then 'unknown_event_type'
            when
                parsed.occurred_at
                > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), 'parsed._loaded_at') }}
                then 'future_timestamp'
        end as invalid_reason
    from parsed
    left join event_types
        on parsed.event_type = event_types.event_type

),

ranked as (

    {{ deduplicate_deliveries('validated', ['event_id'], keep='first') }}

),

final as (

    select
        event_id,
        occurred_at,
        lead_id,
        anonymous_id,
        source_session_id,
        event_type,
        page_url,
        source_page_type,
        product_id,
        product_category,
        search_query,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at,
        quarantine_reason,
        {{ newest_landing_batch('events') }} as _processed_batch
    from ranked
    {% if is_incremental() -%}
        where _batch_id > {{ watermark() }}
    {%- endif %}

)

select * from final
