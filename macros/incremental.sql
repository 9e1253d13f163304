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
    a key that a new batch delivers again (so dedup sees all deliveries of the key).
    The earlier deliveries are found by their parsed key in the calling base model (`this`
    holds every landing row already classified, `key_column` trimmed, empty as null) and
    read back by _ingest_seq, in a branch of their own: matching the landing table's raw
    keys, or an OR of both conditions, would read and trim every row of the whole history
    on every refresh. -#}
{% macro landing_rows_to_process(entity, key_column) -%}
    select * from {{ source('landing', entity) }}
    {% if is_incremental() %}
        where _batch_id > {{ watermark() }}
        union all
        select earlier_deliveries.*
        from {{ source('landing', entity) }} as earlier_deliveries
        where {{ landing_rows_located('earlier_deliveries', source('landing', entity),
            "located._batch_id <= " ~ watermark() ~ " and located._ingest_seq in ("
            ~ "select classified._ingest_seq from " ~ this ~ " as classified"
            ~ " where classified." ~ key_column ~ " in ("
            ~ "select nullif(trim(new_rows." ~ key_column ~ "), '') from " ~ source('landing', entity)
            ~ " as new_rows where new_rows._batch_id > " ~ watermark() ~ "))") }}
    {% endif %}
{%- endmacro %}

{#- A filter on `alias` (a scan of `relation`) that keeps the rows matching `condition`, a
    condition on the same relation aliased `located`. DuckDB: located by rowid, so only
    the few matching rows' columns are read (a semi-join on any other column reads every
    column of every row first); elsewhere the condition itself. -#}
{% macro landing_rows_located(alias, relation, condition) -%}
    {{ return(adapter.dispatch('landing_rows_located', 'leadscore')(alias, relation, condition)) }}
{%- endmacro %}

{% macro default__landing_rows_located(alias, relation, condition) -%}
    {{ alias }}.rowid in (select located.rowid from {{ relation }} as located where {{ condition }})
{%- endmacro %}

{% macro spark__landing_rows_located(alias, relation, condition) -%}
    {{ alias }}._ingest_seq in (select located._ingest_seq from {{ relation }} as located where {{ condition }})
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
    {{ return(adapter.dispatch('delete_relinked_lead_days', 'leadscore')()) }}
{%- endmacro %}

{% macro default__delete_relinked_lead_days() -%}
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

{#- Spark: no DELETE on Parquet; the model passes these lead-days to upserted_rows() as
    replaced keys, so they are left out of the partitions it rewrites. -#}
{% macro spark__delete_relinked_lead_days() -%}
{%- endmacro %}

{#- How a model that replaces rows by unique_key is written, per adapter (one place):
    - DuckDB (default): `delete+insert`, the model selecting only the new rows;
    - Spark on plain Parquet tables (no MERGE, no DELETE): `insert_overwrite` of the
      partitions by `_processed_batch` that the run touches. The model then selects, besides
      its new rows, the rows it keeps from those partitions (upserted_rows): every row of a
      partition that holds a replaced key, except the replaced rows themselves. Spark
      rewrites only those partitions (dynamic partition overwrite), so the table ends up
      equal to DuckDB's delete+insert. -#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'leadscore')()) }}
{%- endmacro %}

{% macro default__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__upsert_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro upsert_partition_by() -%}
    {{ return(adapter.dispatch('upsert_partition_by', 'leadscore')()) }}
{%- endmacro %}

{% macro default__upsert_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__upsert_partition_by() -%}
    {{ return('_processed_batch') }}
{%- endmacro %}

{#- The final select of a model written by upsert_strategy(): `select * from <new_rows>`,
    plus on Spark (incremental runs) the kept rows of the partitions it rewrites.
    replaced_keys: a select of the unique_key columns whose rows are replaced (default:
    the keys of new_rows); a key replaced with no new row is removed. -#}
{% macro upserted_rows(new_rows, replaced_keys=none) -%}
    {{ return(adapter.dispatch('upserted_rows', 'leadscore')(new_rows, replaced_keys)) }}
{%- endmacro %}

{% macro default__upserted_rows(new_rows, replaced_keys=none) -%}
    select * from {{ new_rows }}
{%- endmacro %}

{% macro spark__upserted_rows(new_rows, replaced_keys=none) -%}
    {%- if is_incremental() and execute -%}
        {%- set unique_key = config.get('unique_key') -%}
        {%- set key_columns = [unique_key] if unique_key is string else unique_key -%}
        {%- set replaced = replaced_keys or ('select ' ~ key_columns | join(', ') ~ ' from ' ~ new_rows) -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
        {%- set partition = upsert_partition_by() -%}
        select {{ columns | join(', ') }} from {{ new_rows }}
        union all
        select {% for column in columns %}existing.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
        from {{ this }} as existing
        where
            existing.{{ partition }} in (
                select touched.{{ partition }}
                from {{ this }} as touched
                inner join ({{ replaced }}) as replaced_keys
                    on {% for column in key_columns %}touched.{{ column }} = replaced_keys.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
            )
            and not exists (
                select 1
                from ({{ replaced }}) as replaced_keys
                where {% for column in key_columns %}existing.{{ column }} = replaced_keys.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
            )
    {%- else -%}
        select * from {{ new_rows }}
    {%- endif -%}
{%- endmacro %}

{#- The scoring history (lead_score_history): one as_of's rows are replaced by a re-run.
    DuckDB: `append` after a pre-hook deleting that as_of's rows; Spark Parquet (no
    DELETE): `insert_overwrite` of the table partitioned by as_of, which replaces exactly
    the partition of the run's as_of. -#}
{% macro history_strategy() -%}
    {{ return(adapter.dispatch('history_strategy', 'leadscore')()) }}
{%- endmacro %}

{% macro default__history_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{% macro spark__history_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro history_partition_by() -%}
    {{ return(adapter.dispatch('history_partition_by', 'leadscore')()) }}
{%- endmacro %}

{% macro default__history_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__history_partition_by() -%}
    {{ return('as_of') }}
{%- endmacro %}

{#- The pre-hook of lead_score_history: delete the rows of the run's as_of (DuckDB). -#}
{% macro delete_history_of_as_of() -%}
    {{ return(adapter.dispatch('delete_history_of_as_of', 'leadscore')()) }}
{%- endmacro %}

{% macro default__delete_history_of_as_of() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where as_of = {{ as_of() }}
    {%- endif -%}
{%- endmacro %}

{#- Spark: nothing to delete, the as_of partition is overwritten (history_strategy). -#}
{% macro spark__delete_history_of_as_of() -%}
{%- endmacro %}
