{#- Building blocks of the scores. Every number they use comes from a seed or a var. -#}

{#- The signal kinds an event of a known lead is counted under, one row each (a select
    to cross join with the events): event_type, page_type, category, product (product
    views), search (normalised terms), store (store-hours pages), session (web sessions).
    int_lead_daily_signals and int_lead_signals_as_of fan events out over them. -#}
{% macro signal_kinds() -%}
    select 'event_type' as signal_type
    union all select 'page_type'
    union all select 'category'
    union all select 'product'
    union all select 'search'
    union all select 'store'
    union all select 'session'
{%- endmacro %}

{#- The key an event (`events`: an alias of int_events_sessionized) is counted under for
    the signal kind `kind` (a column of signal_kinds()); null = not counted. -#}
{% macro signal_key_of(events, kind) -%}
    case {{ kind }}
        when 'event_type' then {{ events }}.event_type
        when 'page_type' then {{ events }}.page_type
        when 'category' then {{ events }}.product_category
        when 'product' then case when {{ events }}.event_type = 'product_view' then {{ events }}.product_id end
        when 'search' then case when {{ events }}.event_type = 'search' then lower(trim({{ events }}.search_query)) end
        when 'store' then {{ events }}.store_id
        when 'session' then {{ events }}.session_id
    end
{%- endmacro %}

{#- raw points -> 0..100: 'linear' maps [0, max] onto [0, 100]; 'saturating' is
    100 * (1 - exp(-points / saturation)), which never ties the top leads at 100.
    Negative totals score 0; points above max_raw_points are cut (a guardrail).
    normalise_score rounds to a whole score; normalise_score_exact does not (the
    contributions of rules are shares of the exact value). -#}
{% macro normalise_score(raw_points, max_raw_points, normalisation, saturation_points) -%}
    cast(round({{ normalise_score_exact(raw_points, max_raw_points, normalisation, saturation_points) }}, 0) as integer)
{%- endmacro %}

{% macro normalise_score_exact(raw_points, max_raw_points, normalisation, saturation_points) -%}
    case
        when {{ normalisation }} = 'linear'
            then 100.0 * {{ clamp(raw_points, 0, max_raw_points) }} / {{ max_raw_points }}
        else 100.0 * (1 - exp(-1.0 * {{ clamp(raw_points, 0, max_raw_points) }} / {{ saturation_points }}))
    end
{%- endmacro %}

{% macro clamp(expr, low, high) -%}
    least(greatest({{ expr }}, {{ low }}), {{ high }})
{%- endmacro %}

{#- Whole days from a date or timestamp to the as_of date (0 = on the as_of day). -#}
{% macro days_before_as_of(expr) -%}
    {{ dbt.datediff(expr, as_of_date(), 'day') }}
{%- endmacro %}

{#- The as_of date minus n days (a date). -#}
{% macro as_of_date_minus(n_days) -%}
    cast({{ dbt.dateadd('day', -1 * n_days, as_of_date()) }} as date)
{%- endmacro %}

{#- sum(value) over the rows matching `condition` in the last n days before as_of. -#}
{% macro sum_last_days(condition, value, n_days, date_column='activity_date') -%}
    sum(case when {{ condition }} and {{ date_column }} >= {{ as_of_date_minus(n_days) }} then {{ value }} else 0 end)
{%- endmacro %}

{#- The one-row select of the half-life (days) that the return days to the most viewed
    product decay with: the action group of the `focus` rules of rules/scoring_rules (one
    group, tests/dbt/assert_rule_references_are_known.sql). Read by the carried state and
    at as_of. -#}
{% macro focus_half_life() -%}
    select max(half_lives.half_life_days) as half_life_days
    from {{ ref('scoring_rules') }} as rules
    inner join {{ ref('decay_half_lives') }} as half_lives
        on rules.action_group = half_lives.action_group
    where rules.signal_type = 'focus'
{%- endmacro %}

{#- The one-row select of the half-life (days) of category interest:
    var('category_interest_action_group') in rules/decay_half_lives. -#}
{% macro category_interest_half_life() -%}
    select max(half_life_days) as half_life_days
    from {{ ref('decay_half_lives') }}
    where action_group = '{{ var("category_interest_action_group") }}'
{%- endmacro %}
