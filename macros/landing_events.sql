{#- Landing event rows (text) -> typed, trimmed values, a content fingerprint and the
    reason the row is invalid (null = valid; re-deliveries are judged apart, see
    deduplicate_deliveries.sql). `event_types` is a relation with the known event types. -#}
{% macro validate_landing_events(relation, event_types) -%}
    select
        parsed.*,
        case
            when parsed.event_id is null then 'missing_id'
            when parsed.occurred_at is null then 'unparseable_timestamp'
            when parsed.lead_id is null and parsed.anonymous_id is null
                then 'missing_lead_and_anonymous_id'
            when known_types.event_type is null then 'unknown_event_type'
            when
                parsed.occurred_at
                > {{ dbt.dateadd('minute', var('future_tolerance_minutes'), 'parsed._loaded_at') }}
                then 'future_timestamp'
        end as invalid_reason
    from (
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
        from {{ relation }}
    ) as parsed
    left join {{ event_types }} as known_types
        on parsed.event_type = known_types.event_type
{%- endmacro %}
