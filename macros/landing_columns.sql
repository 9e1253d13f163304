{#- The landing contract's columns per entity, in contract order (one list, used by the
    base models' fingerprints and the quarantine's raw rows). Keep in step with
    orchestration/landing.py CONTRACT (a pytest checks they agree). -#}
{% macro landing_columns(entity) -%}
    {%- set columns = {
        'events': [
            'event_id', 'occurred_at', 'lead_id', 'anonymous_id', 'session_id', 'event_type',
            'page_url', 'page_type', 'product_id', 'product_category', 'search_query',
        ],
        'leads': [
            'lead_id', 'email', 'birth_date', 'age', 'gender', 'country_code', 'postal_code',
            'city', 'latitude', 'longitude', 'created_at', 'updated_at', 'marketing_consent',
            'consent_updated_at', 'acquisition_channel',
        ],
        'orders': [
            'order_id', 'lead_id', 'ordered_at', 'amount', 'currency', 'status', 'item_count',
            'updated_at',
        ],
        'campaign_sends': ['lead_id', 'campaign_id', 'sent_at', 'channel', 'is_control'],
    } -%}
    {{ return(columns[entity]) }}
{%- endmacro %}

{#- The direct identifiers of the landing contract per entity: clear only in the landing
    copy; the quarantine's raw rows mask them (masked_identifier). Keep in step with
    orchestration/privacy.py DIRECT_IDENTIFIERS (a pytest checks they agree). -#}
{% macro landing_direct_identifiers(entity) -%}
    {%- set columns = {'events': [], 'leads': ['email'], 'orders': [], 'campaign_sends': []} -%}
    {{ return(columns[entity]) }}
{%- endmacro %}

{#- The quarantined rows of one entity: reason from the base model, raw row from landing
    with its direct identifiers masked. -#}
{% macro quarantined_rows_of(entity) -%}
    select
        '{{ entity }}' as entity,
        base.quarantine_reason as reason,
        landing_rows._source_file as source_file,
        landing_rows._source_row as source_row,
        {%- set masked = {} %}
        {%- for column in landing_direct_identifiers(entity) %}
            {%- do masked.update({column: masked_identifier('landing_rows.' ~ column)}) %}
        {%- endfor %}
        {{ raw_row_json(landing_columns(entity), 'landing_rows', masked) }} as raw_row,
        landing_rows._loaded_at as loaded_at,
        landing_rows._batch_id as batch_id,
        landing_rows._ingest_seq as ingest_seq,
        base._processed_batch
    from {{ ref('base_landing__' ~ entity) }} as base
    inner join {{ source('landing', entity) }} as landing_rows
        on base._ingest_seq = landing_rows._ingest_seq
    where
        base.quarantine_reason is not null
        {% if is_incremental() %}
            and base._processed_batch > {{ watermark(where_clause="entity = '" ~ entity ~ "'") }}
        {% endif %}
{%- endmacro %}
