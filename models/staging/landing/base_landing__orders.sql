{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='_ingest_seq',
    on_schema_change='fail',
) }}

-- Every landing order row, parsed, with the reason it must be quarantined (null = good).
-- A later updated_at is a new version of the order (refund, cancellation) and kept; the
-- same (order_id, updated_at) delivered twice: identical => exact re-delivery, different
-- => the later delivery wins and the earlier is a conflicting re-delivery.
with

source as (

    {{ landing_rows_to_process('orders', 'order_id') }}

),

statuses as (

    select order_status from {{ ref('order_statuses') }}

),

currencies as (

    -- one row per accepted currency (the rate table has one row per rate period)
    select distinct currency from {{ ref('currency_rates') }}

),

parsed as (

    select
        nullif(trim(order_id), '') as order_id,
        nullif(trim(lead_id), '') as lead_id,
        {{ parse_timestamp_utc('ordered_at') }} as ordered_at,
        {{ parse_amount('amount') }} as amount,
        coalesce(upper(nullif(trim(currency), '')), 'EUR') as currency,
        coalesce(lower(nullif(trim(status), '')), 'completed') as order_status,
        {{ parse_integer('item_count') }} as item_count,
        {{ parse_timestamp_utc('updated_at') }} as updated_at,
        nullif(trim(updated_at), '') is not null as has_updated_at_text,
        {{ row_fingerprint(landing_columns('orders')) }} as row_fingerprint,
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
        coalesce(parsed.updated_at, parsed.ordered_at) as version_at,
        case
            when parsed.order_id is null then 'missing_id'
            when parsed.lead_id is null then 'missing_lead_id'
            when parsed.ordered_at is null then 'unparseable_timestamp'
            when parsed.has_updated_at_text and parsed.updated_at is null
                then 'unparseable_timestamp'
            when parsed.amount is null then 'non_numeric_amount'
            when parsed.amount < 0 then 'negative_amount'
            when statuses.order_status is null then 'unknown_status'
            when currencies.currency is null then 'unknown_currency'
            -- either stamp in the future: an order placed in 2099 with a plausible
            -- updated_at is as impossible as the reverse
            when
                parsed.ordered_at > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), 'parsed._loaded_at') }}
                or parsed.updated_at
                > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), 'parsed._loaded_at') }}
                then 'future_timestamp'
        end as invalid_reason
    from parsed
    left join statuses
        on parsed.order_status = statuses.order_status
    left join currencies
        on parsed.currency = currencies.currency

),

ranked as (

    {{ deduplicate_deliveries('validated', ['order_id', 'version_at'], keep='last') }}

),

final as (

    select
        order_id,
        version_at,
        lead_id,
        ordered_at,
        amount,
        currency,
        order_status,
        item_count,
        updated_at,
        _ingest_seq,
        _batch_id,
        _source_file,
        _source_row,
        _loaded_at,
        quarantine_reason,
        {{ newest_landing_batch('orders') }} as _processed_batch
    from ranked

)

{{ upserted_rows('final') }}
