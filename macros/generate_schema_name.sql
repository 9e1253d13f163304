{#- Use the custom schema name as is (staging, scores, marts, ...) instead of dbt's
    default "<target schema>_<custom>", so BI tools see stable names like marts.lead_scores. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
