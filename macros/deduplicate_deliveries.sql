{#- Classify repeated deliveries of the same key, over a relation (CTE) that has
    `row_fingerprint`, `_ingest_seq` and `invalid_reason` (null = a valid row).
    The key columns must not be null on valid rows (use a sentinel for an optional part).
    Among valid rows of one key:
      - a later copy of content already delivered          -> 'exact_redelivery'
      - a different content for the same key that loses     -> 'conflicting_redelivery'
        (keep='first': the first delivered content wins, as for events;
         keep='last': the last delivered content wins, as for lead and order versions)
    Returns a select of every input column plus `quarantine_reason` (null = staged).
    Only keys delivered more than once go through the window functions: most keys are
    delivered once, and a hash join finds the others far faster than sorting everything. -#}
{% macro deduplicate_deliveries(relation, key_columns, keep='first') -%}
    {%- set key = key_columns | join(', ') -%}
    with

    repeated_keys as (

        select {{ key }}
        from {{ relation }}
        where invalid_reason is null
        group by {{ key }}
        having count(*) > 1

    ),

    flagged as (

        select
            delivered.*,
            repeated_keys.{{ key_columns[0] }} is not null as is_repeated
        from {{ relation }} as delivered
        -- plain equalities (the key columns are never null on valid rows), so this is a
        -- hash join; invalid rows get a null key and never match
        left join repeated_keys
            on
                case when delivered.invalid_reason is null then delivered.{{ key_columns[0] }} end
                = repeated_keys.{{ key_columns[0] }}
                {%- for column in key_columns[1:] %}
                and delivered.{{ column }} = repeated_keys.{{ column }}
                {%- endfor %}

    ),

    classified_repeated as (

        {{ classify_redeliveries('flagged', key_columns, keep, 'is_repeated') }}

    )

    select
        flagged.*,
        flagged.invalid_reason as quarantine_reason
    from flagged
    where not flagged.is_repeated
    union all
    select
        flagged.*,
        classified_repeated.quarantine_reason
    from flagged
    inner join classified_repeated
        on flagged._ingest_seq = classified_repeated._ingest_seq
{%- endmacro %}

{#- The reasons of the valid deliveries of keys delivered more than once: one row per
    valid row of `relation` (matching `where_clause`) with its `_ingest_seq` and
    `quarantine_reason` (null: this delivery is staged). See deduplicate_deliveries. -#}
{% macro classify_redeliveries(relation, key_columns, keep='first', where_clause='1 = 1') -%}
    {%- set key = key_columns | join(', ') -%}
    {%- set direction = 'asc' if keep == 'first' else 'desc' -%}
    select
        _ingest_seq,
        case
            when content_rank > 1 then 'exact_redelivery'
            when
                row_number() over (
                    partition by {{ key }}, content_rank
                    order by _ingest_seq {{ direction }}
                ) > 1
                then 'conflicting_redelivery'
        end as quarantine_reason
    from (
        select
            {{ key }},
            _ingest_seq,
            row_number() over (
                partition by {{ key }}, row_fingerprint
                order by _ingest_seq
            ) as content_rank
        from {{ relation }}
        where invalid_reason is null and ({{ where_clause }})
    ) as repeated
{%- endmacro %}
