{#- The point in time of a scoring run. Nothing on or after it counts.
    var('as_of') accepts 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS]' or ISO 'YYYY-MM-DDTHH:MM:SS'
    (read as UTC); without it, the environment variable LEADSCORE_AS_OF (same forms);
    default: the run's start (UTC). The `leadscore` commands pass it by the environment:
    a var that changes on every run makes dbt re-parse the whole project each time, an
    environment variable only the files that read it. -#}
{% macro as_of_string() -%}
    {%- set raw = var('as_of', none) -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {%- set raw = env_var('LEADSCORE_AS_OF', '') -%}
    {%- endif -%}
    {%- if raw is none or (raw | string | trim) == '' -%}
        {{- return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) -}}
    {%- endif -%}
    {%- set text = (raw | string | trim).replace('T', ' ').rstrip('Z') -%}
    {%- set ns = namespace(parsed=none) -%}
    {%- for fmt in ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d'] -%}
        {%- if ns.parsed is none -%}
            {%- set attempt = modules.datetime.datetime.strptime(text, fmt) if text | length == (modules.datetime.datetime(2000, 1, 1).strftime(fmt) | length) else none -%}
            {%- set ns.parsed = attempt -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.parsed is none -%}
        {{ exceptions.raise_compiler_error("as_of (var 'as_of' or LEADSCORE_AS_OF) must look like YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (UTC), got: " ~ raw) }}
    {%- endif -%}
    {{- return(ns.parsed.strftime('%Y-%m-%d %H:%M:%S')) -}}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ as_of_string() }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- The calendar date (UTC) of as_of. -#}
{% macro as_of_date() -%}
    cast('{{ as_of_string()[:10] }}' as date)
{%- endmacro %}

{#- A store of reference/stores counts at as_of once it has opened: it opens at the start
    (UTC) of its opened_on day, and as nothing on or after as_of counts, a store opening on
    the as_of day counts when as_of is later than midnight. No opening date = open since
    always. -#}
{% macro store_is_open(opened_on) -%}
    ({{ opened_on }} is null or cast({{ opened_on }} as {{ dbt.type_timestamp() }}) < {{ as_of() }})
{%- endmacro %}
