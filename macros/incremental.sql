{#- Incremental processing, in the spirit of Snowplow's web package:
    - every incremental model stamps the rows it (re)writes with `_processed_batch`, the
      newest landing batch it had seen; its watermark is the max of that column in the
      model itself, so it never moves backwards and a failed run is simply redone;
    - a late or re-delivered row makes the whole entity it belongs to be recomputed
      (all deliveries of a key, all events of a visitor, all signals of a lead-day);
    - --full-refresh rebuilds from scratch, and the result must equal the incremental one
      (tested in tests/python/test_incremental.py). -#}

{#- The watermark of this model (0 on the first run). -#}
{% macro watermark(column='_processed_batch', where_clause=none) -%}
    (select coalesce(max({{ column }}), 0) from {{ this }}{% if where_clause %} where {{ where_clause }}{% endif %})
{%- endmacro %}

{#- The landing rows to (re)classify: rows of new batches, plus every earlier delivery of
    a key that a new batch delivers again (so dedup sees all deliveries of the key). -#}
{% macro landing_rows_to_process(entity, key_column) -%}
    select * from {{ source('landing', entity) }}
    {% if is_incremental() %}
        where
            _batch_id > {{ watermark() }}
            or nullif(trim({{ key_column }}), '') in (
                select nullif(trim(new_rows.{{ key_column }}), '')
                from {{ source('landing', entity) }} as new_rows
                where new_rows._batch_id > {{ watermark() }}
            )
    {% endif %}
{%- endmacro %}

{#- The newest landing batch of an entity: the stamp of the rows written by this run. -#}
{% macro newest_landing_batch(entity) -%}
    (select coalesce(max(_batch_id), 0) from {{ source('landing', entity) }})
{%- endmacro %}

{#- The newest `_processed_batch` of an upstream model: the stamp of the rows this run writes. -#}
{% macro newest_processed_batch(relation) -%}
    (select max(upstream._processed_batch) from {{ relation }} as upstream)
{%- endmacro %}

{#- (lead, day) pairs of leads that lost an anonymous history to a link a late event moved
    (int_identity_links._relinked_from_lead_id), among the events re-processed since the
    watermark of the model calling it. -#}
{% macro relinked_lead_days() -%}
    select distinct
        links._relinked_from_lead_id as lead_id,
        cast(sessionized.occurred_at as date) as activity_date
    from {{ ref('int_events_sessionized') }} as sessionized
    inner join {{ ref('int_identity_links') }} as links
        on sessionized.anonymous_id = links.anonymous_id
    where
        sessionized._processed_batch > {{ watermark() }}
        and sessionized.lead_id is null
        and links._relinked_from_lead_id is not null
{%- endmacro %}

{#- A pre-hook for the per-lead-day aggregate: delete the lead-days of relinked_lead_days()
    first, since a lead-day whose events all moved away has no new row to replace it. -#}
{% macro delete_relinked_lead_days() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where exists (
            select 1
            from ({{ relinked_lead_days() }}) as relinked
            where
                relinked.lead_id = {{ this }}.lead_id
                and relinked.activity_date = {{ this }}.activity_date
        )
    {%- endif -%}
{%- endmacro %}
