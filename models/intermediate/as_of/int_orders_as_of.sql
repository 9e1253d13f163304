-- The state of every order placed before as_of: its latest version before as_of. A
-- refund or cancellation that happens after as_of does not count yet. An order placed
-- before as_of whose first delivered version is stamped on or after as_of (e.g. updated
-- when the payment cleared) exists at as_of with the status var('order_status_unconfirmed').
with

versions as (

    select
        *,
        min(version_at) over (partition by order_id) as first_version_at
    from {{ ref('stg_landing__orders') }}
    where ordered_at < {{ as_of() }}

),

statuses as (

    select * from {{ ref('order_statuses') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by version_at desc, _ingest_seq desc
        ) as version_rank
    from versions
    where
        version_at < {{ as_of() }}
        or version_at = first_version_at

),

final as (

    select
        ranked.order_id,
        ranked.lead_id,
        ranked.ordered_at,
        ranked.amount_eur,
        ranked.item_count,
        case
            when ranked.version_at < {{ as_of() }} then ranked.order_status
            else '{{ var("order_status_unconfirmed") }}'
        end as order_status,
        case
            when ranked.version_at < {{ as_of() }} then ranked.counts_as_purchase
            else unconfirmed.counts_as_purchase
        end as counts_as_purchase,
        case
            when ranked.version_at < {{ as_of() }} then ranked.version_at
            else ranked.ordered_at
        end as status_since
    from ranked
    left join statuses as unconfirmed
        on unconfirmed.order_status = '{{ var("order_status_unconfirmed") }}'
    where ranked.version_rank = 1

)

select * from final
