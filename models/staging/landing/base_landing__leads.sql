{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='_ingest_seq',
    on_schema_change='fail',
) }}

-- Every landing lead row, parsed, with the reason it must be quarantined (null = good).
-- Rows of one lead with different version times are versions and all kept; the same
-- (lead_id, version time) delivered twice: identical => exact re-delivery, different =>
-- the later delivery wins and the earlier is a conflicting re-delivery.
-- The version time is updated_at, else created_at, else (a row with neither) the time
-- the row was loaded: the only time known for it, and never before the data existed.
-- So a version without timestamps counts from its load on, and each load of such rows
-- is a version of its own (point in time: README, "The scores").
with

source as (

    {{ landing_rows_to_process('leads', 'lead_id') }}

),

parsed as (

    select
        nullif(trim(lead_id), '') as lead_id,
        {{ hash_email("nullif(trim(email), '')") }} as email_hash,
        {{ parse_date('birth_date') }} as birth_date,
        {{ parse_integer('age') }} as reported_age,
        lower(nullif(trim(gender), '')) as gender,
        upper(nullif(trim(country_code), '')) as country_code,
        nullif(trim(postal_code), '') as postal_code,
        nullif(trim(city), '') as city,
        {{ parse_float('latitude') }} as latitude,
        {{ parse_float('longitude') }} as longitude,
        {{ parse_timestamp_utc('created_at') }} as created_at,
        {{ parse_timestamp_utc('updated_at') }} as updated_at,
        case
            when lower(trim(marketing_consent)) in ('true', 't', '1', 'yes', 'y') then true
            when lower(trim(marketing_consent)) in ('false', 'f', '0', 'no', 'n') then false
        end as has_marketing_consent,
        {{ parse_timestamp_utc('consent_updated_at') }} as consent_updated_at,
        lower(nullif(trim(acquisition_channel), '')) as acquisition_channel,
        nullif(trim(consent_updated_at), '') is not null as has_consent_updated_at_text,
        nullif(trim(created_at), '') is not null as has_created_at_text,
        nullif(trim(updated_at), '') is not null as has_updated_at_text,
        {{ row_fingerprint(landing_columns('leads')) }} as row_fingerprint,
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
        coalesce(updated_at, created_at, _loaded_at) as version_at,
        case
            when lead_id is null then 'missing_id'
            when has_created_at_text and created_at is null then 'unparseable_timestamp'
            when has_updated_at_text and updated_at is null then 'unparseable_timestamp'
            when has_consent_updated_at_text and consent_updated_at is null then 'unparseable_timestamp'
            when
                coalesce(updated_at, created_at)
                > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), '_loaded_at') }}
                or consent_updated_at > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), '_loaded_at') }}
                then 'future_timestamp'
        end as invalid_reason
    from parsed

),

ranked as (

    {{ deduplicate_deliveries('validated', ['lead_id', 'version_at'], keep='last') }}

),

final as (

    select
        lead_id,
        version_at,
        email_hash,
        birth_date,
        case when reported_age between 0 and 120 then reported_age end as reported_age,
        gender,
        country_code,
        postal_code,
        city,
        case when latitude between -90 and 90 then latitude end as latitude,
        case when longitude between -180 and 180 then longitude end as longitude,
        created_at,
        updated_at,
        has_marketing_consent,
        consent_updated_at,
        acquisition_channel,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at,
        quarantine_reason,
        {{ newest_landing_batch('leads') }} as _processed_batch
    from ranked

)

{{ upserted_rows('final') }}
