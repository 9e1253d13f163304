{{ config(
    materialized='incremental',
    incremental_strategy=upsert_strategy(),
    partition_by=upsert_partition_by(),
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
        cast(null as {{ dbt.type_string() }}) as current_lead_id,
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
            lead_id as current_lead_id,
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
        max(current_lead_id) over (partition by anonymous_id) as current_lead_id,
        max(_processed_batch) over () as _processed_batch,
        row_number() over (
            partition by anonymous_id
            order by occurred_at, lead_id
        ) as link_rank
    from events

),

final as (

    select
        anonymous_id,
        lead_id,
        occurred_at as linked_at,
        case when current_lead_id <> lead_id then current_lead_id end as _relinked_from_lead_id,
        _processed_batch
    from ranked
    where link_rank = 1

)

{{ upserted_rows('final') }}
