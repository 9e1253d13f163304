{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='anonymous_id',
    on_schema_change='fail',
) }}

-- Identity stitching: an event carrying both an anonymous_id and a lead_id links that
-- visitor's anonymous history to the lead. One row per anonymous_id: the first link wins
-- (ties: the smaller lead_id), so a shared device never splits its history.
-- Incremental: when a late event moves a link to another lead, _relinked_from_lead_id
-- names the lead that loses the history, so its daily signals are recomputed too.
with

events as (

    select
        anonymous_id,
        lead_id,
        occurred_at,
        _processed_batch
    from {{ ref('stg_landing__events') }}
    where
        anonymous_id is not null
        and lead_id is not null
    {% if is_incremental() %}
            and _processed_batch > {{ watermark() }}
        {% endif %}
    {% if is_incremental() %}
        -- the current link of the anonymous ids seen again competes with the new candidates
        union all
        select
            anonymous_id,
            lead_id,
            linked_at as occurred_at,
            _processed_batch
        from {{ this }}
        where anonymous_id in (
            select new_links.anonymous_id
            from {{ ref('stg_landing__events') }} as new_links
            where new_links._processed_batch > {{ watermark() }}
        )
    {% endif %}

),

ranked as (

    select
        anonymous_id,
        lead_id,
        occurred_at,
        max(_processed_batch) over () as _processed_batch,
        row_number() over (
            partition by anonymous_id
            order by occurred_at, lead_id
        ) as link_rank
    from events

),

{% if is_incremental() %}
    previous_links as (

        select
            anonymous_id,
            lead_id
        from {{ this }}
        where anonymous_id in (select events.anonymous_id from events)

    ),
{% endif %}

final as (

    select
        ranked.anonymous_id,
        ranked.lead_id,
        ranked.occurred_at as linked_at,
        {% if is_incremental() -%}
            case
                when previous_links.lead_id <> ranked.lead_id then previous_links.lead_id
            end
        {%- else -%}
            cast(null as {{ dbt.type_string() }})
        {%- endif %} as _relinked_from_lead_id,
        ranked._processed_batch
    from ranked
    {% if is_incremental() -%}
        left join previous_links
            on ranked.anonymous_id = previous_links.anonymous_id
    {%- endif %}
    where ranked.link_rank = 1

)

select * from final
