{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='quarantine_id',
    on_schema_change='fail',
) }}

-- Every landing row that did not make it to staging, with the reason and the raw row.
-- Rows in landing = rows staged + rows quarantined, per entity (tested).
-- depends_on: {{ ref('base_landing__events') }} {{ ref('base_landing__leads') }} {{ ref('base_landing__orders') }} {{ ref('base_landing__campaign_sends') }}
with

events_quarantined as (

    {{ quarantined_rows_of('events') }}

),

leads_quarantined as (

    {{ quarantined_rows_of('leads') }}

),

orders_quarantined as (

    {{ quarantined_rows_of('orders') }}

),

campaign_sends_quarantined as (

    {{ quarantined_rows_of('campaign_sends') }}

),

unioned as (

    select * from events_quarantined
    union all
    select * from leads_quarantined
    union all
    select * from orders_quarantined
    union all
    select * from campaign_sends_quarantined

),

final as (

    select
        {{ version_id('entity', 'ingest_seq', separator=':') }} as quarantine_id,
        entity,
        reason,
        source_file,
        source_row,
        raw_row,
        loaded_at,
        batch_id,
        ingest_seq,
        _processed_batch
    from unioned

)

{{ upserted_rows('final') }}
