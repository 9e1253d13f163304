{#- Generic data tests the project needs (dbt_utils is not reachable offline). Each
    returns the failing rows, so a test fails when the query returns anything. -#}

{#- The combination of columns identifies a row. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') -%}
    select {{ columns }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}

{#- Every row satisfies a boolean SQL expression. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
    {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Values lie within [min_value, max_value] (either bound optional); nulls pass. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- set lower = '>=' if inclusive else '>' -%}
    {%- set upper = '<=' if inclusive else '<' -%}
    select *
    from {{ model }}
    where {{ column_name }} is not null
      and (
        1 = 0
        {%- if min_value is not none %} or not ({{ column_name }} {{ lower }} {{ min_value }}){% endif %}
        {%- if max_value is not none %} or not ({{ column_name }} {{ upper }} {{ max_value }}){% endif %}
      )
{% endtest %}

{#- The table has at least / at most this many rows. -#}
{% test row_count_between(model, min_value=none, max_value=none) %}
    select n_rows
    from (select count(*) as n_rows from {{ model }}) as counted
    where 1 = 0
    {%- if min_value is not none %} or n_rows < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or n_rows > {{ max_value }}{% endif %}
{% endtest %}

{#- "Landing = staged + quarantined", row by row: every landing row (by _ingest_seq) is
    in exactly one of the staged model and the entity's quarantined rows; a failing row
    names the landing row. Row by row rather than by counts, so that landing copies pruned
    after LEADSCORE_LANDING_RETENTION_DAYS (orchestration/privacy.py) keep it exact. -#}
{% test rows_accounted_for(model, staged, quarantined, entity) %}
    with accounted as (
        select _ingest_seq from {{ staged }}
        union all
        select ingest_seq as _ingest_seq from {{ quarantined }} where entity = '{{ entity }}'
    ),
    per_row as (
        select
            landing_rows._ingest_seq,
            landing_rows._source_file,
            landing_rows._source_row,
            count(accounted._ingest_seq) as n_places
        -- `model` may be a filtered subquery with its own alias (a `where` config)
        from (select * from {{ model }}) as landing_rows
        left join accounted
            on landing_rows._ingest_seq = accounted._ingest_seq
        group by
            landing_rows._ingest_seq,
            landing_rows._source_file,
            landing_rows._source_row
    )
    select * from per_row
    where n_places <> 1
{% endtest %}

{#- The model has exactly as many rows as another relation (e.g. one row per known lead). -#}
{% test rows_equal_count(model, other) %}
    select model_rows, other_rows
    from (select count(*) as model_rows from {{ model }}) as model_count
    cross join (select count(*) as other_rows from {{ other }}) as other_count
    where model_rows <> other_rows
{% endtest %}
