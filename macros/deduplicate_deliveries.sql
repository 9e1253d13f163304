{#- Classify repeated deliveries of the same key, over a relation (CTE) that has
    `row_fingerprint`, `_ingest_seq` and `invalid_reason` (null = a valid row).
    Among valid rows of one key:
      - a later copy of content already delivered          -> 'exact_redelivery'
      - a different content for the same key that loses     -> 'conflicting_redelivery'
        (keep='first': the first delivered content wins, as for events;
         keep='last': the last delivered content wins, as for lead and order versions)
    Returns a select of every input column plus `quarantine_reason` (null = staged). -#}
{% macro deduplicate_deliveries(relation, key_columns, keep='first') -%}
    {%- set key = key_columns | join(', ') -%}
    {%- set direction = 'asc' if keep == 'first' else 'desc' -%}
    select
        *,
        coalesce(
            invalid_reason,
            case
                when content_rank > 1 then 'exact_redelivery'
                when
                    row_number() over (
                        partition by {{ key }}, invalid_reason, content_rank
                        order by _ingest_seq {{ direction }}
                    ) > 1
                    then 'conflicting_redelivery'
            end
        ) as quarantine_reason
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}, invalid_reason, row_fingerprint
                order by _ingest_seq
            ) as content_rank
        from {{ relation }}
    ) as with_content_rank
{%- endmacro %}
