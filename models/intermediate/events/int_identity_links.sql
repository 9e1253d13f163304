-- Identity stitching: an event carrying both an anonymous_id and a lead_id links that
-- visitor's anonymous history to the lead. One row per anonymous_id: the first link wins
-- (ties: the smaller lead_id), so a shared device never splits its history.
with

events as (

    select
        anonymous_id,
        lead_id,
        occurred_at
    from {{ ref('stg_landing__events') }}
    where
        anonymous_id is not null
        and lead_id is not null

),

ranked as (

    select
        anonymous_id,
        lead_id,
        occurred_at,
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
        occurred_at as linked_at
    from ranked
    where link_rank = 1

)

select * from final
