{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
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

validated as (

    {{ validate_landing_events('source', 'event_types') }}

),

-- Re-deliveries: most event ids are delivered once. The ids delivered more than once are
-- found from the raw ids alone and only their deliveries are parsed again and classified
-- (deduplicate_deliveries' candidates). Each CTE is read once, so no copy of all the
-- rows is ever materialised.
repeated_keys as (

    select nullif(trim(event_id), '') as event_id
    from ({{ landing_rows_to_process('events', 'event_id') }}) as delivered
    where nullif(trim(event_id), '') is not null
    group by nullif(trim(event_id), '')
    having count(*) > 1

),

repeated_source as (

    select delivered.*
    from ({{ landing_rows_to_process('events', 'event_id') }}) as delivered
    inner join repeated_keys
        on nullif(trim(delivered.event_id), '') = repeated_keys.event_id

),

repeated_validated as (

    {{ validate_landing_events('repeated_source', 'event_types') }}

),

ranked as (

    {{ deduplicate_deliveries('validated', ['event_id'], keep='first', candidates='repeated_validated') }}

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

{{ upserted_rows('final') }}
