{#- Campaign measurement: the absolute uplift of a treated group over its control group,
    as the difference of two proportions, with its standard error under the normal
    approximation (unpooled: sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0)). Null when a group
    is empty. The interval is uplift +/- z * standard error. -#}
{% macro proportion(successes, trials) -%}
    (cast({{ successes }} as double) / nullif({{ trials }}, 0))
{%- endmacro %}

{% macro uplift_standard_error(successes_1, trials_1, successes_0, trials_0) -%}
    sqrt(
        {{ proportion(successes_1, trials_1) }} * (1 - {{ proportion(successes_1, trials_1) }}) / nullif({{ trials_1 }}, 0)
        + {{ proportion(successes_0, trials_0) }} * (1 - {{ proportion(successes_0, trials_0) }}) / nullif({{ trials_0 }}, 0)
    )
{%- endmacro %}
