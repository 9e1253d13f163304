-- The state of every order at as_of: its latest version before as_of. A refund or
-- cancellation that happens after as_of does not count yet.
with

versions as (

    select * from {{ ref('stg_landing__orders') }}
    where
        ordered_at < {{ as_of() }}
        and version_at < {{ as_of() }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by version_at desc, _ingest_seq desc
        ) as version_rank
    from versions

),

final as (

    select
        order_id,
        lead_id,
        ordered_at,
        amount_eur,
        item_count,
        order_status,
        counts_as_purchase,
        version_at as status_since
    from ranked
    where version_rank = 1

)

select * from final
