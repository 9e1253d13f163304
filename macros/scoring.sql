{#- Building blocks of the scores. Every number they use comes from a seed or a var. -#}

{#- Per-lead, per-day signal counts from events: the compact aggregate the scores read.
    One scan of the events, fanned out over the signal kinds, then grouped.
    Signal kinds: event_type, page_type, category, product (product views), search
    (normalised terms), store (store-hours pages), session (web sessions). -#}
{% macro lead_signals_from_events(events_relation, where_clause='1 = 1') -%}
    select
        lead_id,
        activity_date,
        identity_linked_at,
        signal_type,
        signal_key,
        count(*) as n_events,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at
    from (
        select
            events.resolved_lead_id as lead_id,
            cast(events.occurred_at as date) as activity_date,
            events.identity_linked_at,
            events.occurred_at,
            kinds.signal_type,
            case kinds.signal_type
                when 'event_type' then events.event_type
                when 'page_type' then events.page_type
                when 'category' then events.product_category
                when 'product' then case when events.event_type = 'product_view' then events.product_id end
                when 'search' then case when events.event_type = 'search' then lower(trim(events.search_query)) end
                when 'store' then events.store_id
                when 'session' then events.session_id
            end as signal_key
        from {{ events_relation }} as events
        cross join (
            select 'event_type' as signal_type
            union all select 'page_type'
            union all select 'category'
            union all select 'product'
            union all select 'search'
            union all select 'store'
            union all select 'session'
        ) as kinds
        where events.resolved_lead_id is not null and ({{ where_clause }})
    ) as fanned_out
    where signal_key is not null
    group by lead_id, activity_date, identity_linked_at, signal_type, signal_key
{%- endmacro %}

{#- raw points -> 0..100: 'linear' maps [0, max] onto [0, 100]; 'saturating' is
    100 * (1 - exp(-points / saturation)), which never ties the top leads at 100.
    Negative totals score 0; points above max_raw_points are cut (a guardrail). -#}
{% macro normalise_score(raw_points, max_raw_points, normalisation, saturation_points) -%}
    cast(round(
        case
            when {{ normalisation }} = 'linear'
                then 100.0 * {{ clamp(raw_points, 0, max_raw_points) }} / {{ max_raw_points }}
            else 100.0 * (1 - exp(-1.0 * {{ clamp(raw_points, 0, max_raw_points) }} / {{ saturation_points }}))
        end
    , 0) as integer)
{%- endmacro %}

{% macro clamp(expr, low, high) -%}
    least(greatest({{ expr }}, {{ low }}), {{ high }})
{%- endmacro %}

{#- Quintile 1..5 of a value among the rows of the window; ties share a quintile
    (rank-based, so the result does not depend on row order). -#}
{% macro quintile(order_expr) -%}
    least(5, 1 + floor(5.0 * (rank() over (order by {{ order_expr }}) - 1) / count(*) over ()))
{%- endmacro %}

{#- Whole days from a date or timestamp to the as_of date (0 = on the as_of day). -#}
{% macro days_before_as_of(expr) -%}
    {{ dbt.datediff(expr, 'cast(' ~ as_of() ~ ' as date)', 'day') }}
{%- endmacro %}

{#- The as_of date minus n days (a date). -#}
{% macro as_of_date_minus(n_days) -%}
    cast({{ dbt.dateadd('day', -1 * n_days, 'cast(' ~ as_of() ~ ' as date)') }} as date)
{%- endmacro %}

{#- sum(value) over the rows matching `condition` in the last n days before as_of. -#}
{% macro sum_last_days(condition, value, n_days, date_column='activity_date') -%}
    sum(case when {{ condition }} and {{ date_column }} >= {{ as_of_date_minus(n_days) }} then {{ value }} else 0 end)
{%- endmacro %}

{#- The raw points and 0-100 score of one dimension for every lead of the spine.
    `points` has (lead_id, dimension, points); settings come from rules/dimension_settings. -#}
{% macro dimension_score(dimension, spine, points, settings) -%}
    select
        {{ spine }}.lead_id,
        coalesce(dimension_points.raw_points, 0) as raw_points,
        {{ normalise_score(
            'coalesce(dimension_points.raw_points, 0)',
            'dimension_settings.max_raw_points',
            'dimension_settings.normalisation',
            'dimension_settings.saturation_points') }} as score
    from {{ spine }}
    cross join (
        select * from {{ settings }} where dimension = '{{ dimension }}'
    ) as dimension_settings
    left join (
        select
            lead_id,
            sum(points) as raw_points
        from {{ points }}
        where dimension = '{{ dimension }}'
        group by lead_id
    ) as dimension_points
        on {{ spine }}.lead_id = dimension_points.lead_id
{%- endmacro %}
