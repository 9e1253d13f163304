{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
    unique_key='order_version_id',
    on_schema_change='fail',
) }}

-- Good order versions, one row per (order_id, version_at), amounts in their currency
-- (converted to EUR at as_of by int_orders_as_of, with the rate in force at ordered_at).
with

orders as (

    select * from {{ ref('base_landing__orders') }}
    where
        quarantine_reason is null
    {% if is_incremental() %}
            and _processed_batch > {{ watermark() }}
        {% endif %}

),

statuses as (

    select * from {{ ref('order_statuses') }}

),

final as (

    select
        {{ version_id('orders.order_id', 'orders.version_at') }} as order_version_id,
        orders.order_id,
        orders.version_at,
        orders.lead_id,
        orders.ordered_at,
        orders.amount,
        orders.currency,
        orders.order_status,
        statuses.counts_as_purchase,
        orders.item_count,
        orders.updated_at,
        orders._ingest_seq,
        orders._batch_id,
        orders._source_file,
        orders._loaded_at,
        orders._processed_batch
    from orders
    inner join statuses
        on orders.order_status = statuses.order_status

)

{{ upserted_rows('final') }}
