{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='lead_version_id',
    on_schema_change='fail',
) }}

-- Good lead profile versions, one row per (lead_id, version_at). The e-mail is hashed:
-- its clear text never leaves the landing and quarantine tables.
with

leads as (

    select * from {{ ref('base_landing__leads') }}
    where
        quarantine_reason is null
    {% if is_incremental() %}
            and _processed_batch > {{ watermark() }}
        {% endif %}

),

final as (

    select
        {{ version_id('lead_id', 'version_at') }} as lead_version_id,
        lead_id,
        version_at,
        email_hash,
        email_hash is not null as has_email,
        birth_date,
        reported_age,
        gender,
        country_code,
        postal_code,
        city,
        latitude,
        longitude,
        created_at,
        updated_at,
        has_marketing_consent,
        consent_updated_at,
        acquisition_channel,
        _ingest_seq,
        _batch_id,
        _source_file,
        _loaded_at,
        _processed_batch
    from leads

)

{{ upserted_rows('final') }}
