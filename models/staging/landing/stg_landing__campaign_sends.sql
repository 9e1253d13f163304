{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='send_id',
    on_schema_change='fail',
) }}

-- Good campaign sends, one row per (campaign_id, lead_id, sent_at). is_control: the lead
-- was in the audience and held out (the control group); otherwise it was sent.
with

sends as (

    select * from {{ ref('base_landing__campaign_sends') }}
    where
        quarantine_reason is null
    {% if is_incremental() %}
            and _processed_batch > {{ watermark() }}
        {% endif %}

),

final as (

    select
        {{ version_id(dbt.concat(['sends.campaign_id', "'/'", 'sends.lead_id']), 'sends.sent_at') }} as send_id,
        sends.campaign_id,
        sends.lead_id,
        sends.sent_at,
        sends.channel,
        sends.is_control,
        sends._ingest_seq,
        sends._batch_id,
        sends._source_file,
        sends._loaded_at,
        sends._processed_batch
    from sends

)

{{ upserted_rows('final') }}
