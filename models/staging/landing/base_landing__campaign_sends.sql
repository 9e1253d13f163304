{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='_ingest_seq',
    on_schema_change='fail',
) }}

-- Every landing campaign send row, parsed, with the reason it must be quarantined (null =
-- good). A send is (campaign_id, lead_id, sent_at): the same key delivered twice is an
-- exact re-delivery (same content) or a conflicting one (the later delivery wins).
-- is_control = true: the lead was in the audience but held out (not sent), the control group.
with

source as (

    {{ landing_rows_to_process('campaign_sends', 'lead_id') }}

),

parsed as (

    select
        nullif(trim(lead_id), '') as lead_id,
        nullif(trim(campaign_id), '') as campaign_id,
        {{ parse_timestamp_utc('sent_at') }} as sent_at,
        lower(nullif(trim(channel), '')) as channel,
        case
            when lower(trim(is_control)) in ('true', 't', '1', 'yes', 'y') then true
            when lower(trim(is_control)) in ('false', 'f', '0', 'no', 'n') then false
        end as is_control,
        nullif(trim(is_control), '') is not null as has_is_control_text,
        {{ row_fingerprint(landing_columns('campaign_sends')) }} as row_fingerprint,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at
    from source

),

validated as (

    select
        *,
        case
            when campaign_id is null then 'missing_id'
            when lead_id is null then 'missing_lead_id'
            when sent_at is null then 'unparseable_timestamp'
            when channel is not null and channel not in ('email', 'ads', 'sales') then 'unknown_channel'
            when has_is_control_text and is_control is null then 'unparseable_flag'
            when
                sent_at > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), '_loaded_at') }}
                then 'future_timestamp'
        end as invalid_reason
    from parsed

),

ranked as (

    {{ deduplicate_deliveries('validated', ['campaign_id', 'lead_id', 'sent_at'], keep='last') }}

),

final as (

    select
        campaign_id,
        lead_id,
        sent_at,
        channel,
        coalesce(is_control, false) as is_control,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at,
        quarantine_reason,
        {{ newest_landing_batch('campaign_sends') }} as _processed_batch
    from ranked

)

{{ upserted_rows('final') }}
