{#- Classify repeated deliveries of the same key, over a relation (CTE) that has
    `row_fingerprint`, `_ingest_seq` and `invalid_reason` (null = a valid row).
    The key columns must not be null on valid rows (use a sentinel for an optional part).
    Among valid rows of one key:
      - a later copy of content already delivered          -> 'exact_redelivery'
      - a different content for the same key that loses     -> 'conflicting_redelivery'
        (keep='first': the first delivered content wins, as for events;
         keep='last': the last delivered content wins, as for lead and order versions)
    Returns a select of every input column plus `quarantine_reason` (null = staged).
    Only keys delivered more than once go through the window functions (most keys are
    delivered once), and their verdicts are joined back by `_ingest_seq`.
    `candidates`: a relation like `relation` holding at least every delivery of each key
    delivered more than once (default: `relation` itself). Events pass the deliveries of
    their repeated raw ids, so the window functions never see all the events. -#}
{% macro deduplicate_deliveries(relation, key_columns, keep='first', candidates=none) -%}
    select
        delivered.*,
        coalesce(delivered.invalid_reason, classified.quarantine_reason) as quarantine_reason
    from {{ relation }} as delivered
    left join ({{ classify_redeliveries(candidates or relation, key_columns, keep) }}) as classified
        on delivered._ingest_seq = classified._ingest_seq
{%- endmacro %}

{#- The verdict on each valid delivery of a key delivered more than once (valid rows of
    `relation`): its `_ingest_seq` and `quarantine_reason` (null: this delivery is staged). -#}
{% macro classify_redeliveries(relation, key_columns, keep='first') -%}
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
            {%- for column in key_columns %}
            valid.{{ column }},
            {%- endfor %}
            valid._ingest_seq,
            row_number() over (
                partition by {% for column in key_columns %}valid.{{ column }}, {% endfor %}valid.row_fingerprint
                order by valid._ingest_seq
            ) as content_rank
        from {{ relation }} as valid
        inner join (
            -- plain equalities (key columns are never null on valid rows): a hash join
            select {{ key }}
            from {{ relation }}
            where invalid_reason is null
            group by {{ key }}
            having count(*) > 1
        ) as repeated_keys
            on
                {% for column in key_columns -%}
                    {{ 'and ' if not loop.first }}valid.{{ column }} = repeated_keys.{{ column }}
                {% endfor %}
        where valid.invalid_reason is null
    ) as repeated
{%- endmacro %}
