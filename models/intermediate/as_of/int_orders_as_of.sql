-- The state of every order at as_of: its latest version stamped before as_of. Only what
-- was known at as_of counts: a refund or cancellation stamped after as_of does not count
-- yet, and an order whose first version is stamped on or after as_of (e.g. when the
-- payment cleared) does not exist yet, although it was placed before: no row of it could
-- have been delivered by then.
-- Amounts are converted to EUR at the rate in force when the order was placed
-- (reference/currency_rates: a rate holds from its valid_from until the currency's next
-- valid_from; an order placed before a currency's first valid_from takes that first
-- rate). Converted here, not in incremental staging, so that every run prices every order
-- by the rate table as it is now, and a new rate never re-prices the orders before it.
with

versions as (

    select * from {{ ref('stg_landing__orders') }}
    where
        ordered_at < {{ as_of() }}
        and version_at < {{ as_of() }}

),

currency_rates as (

    select * from {{ ref('currency_rates') }}

),

rate_periods as (

    select
        currency,
        eur_per_unit,
        case
            when row_number() over (partition by currency order by valid_from) > 1
                then cast(valid_from as {{ dbt.type_timestamp() }})
        end as applies_from,
        cast(
            lead(valid_from) over (partition by currency order by valid_from)
            as {{ dbt.type_timestamp() }}
        ) as applies_until
    from currency_rates

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
        ranked.order_id,
        ranked.lead_id,
        ranked.ordered_at,
        ranked.currency,
        ranked.amount,
        rate_periods.eur_per_unit,
        cast(ranked.amount * rate_periods.eur_per_unit as decimal(18, 2)) as amount_eur,
        ranked.item_count,
        ranked.order_status,
        ranked.counts_as_purchase,
        ranked.version_at as status_since
    from ranked
    left join rate_periods
        on
            ranked.currency = rate_periods.currency
            and (rate_periods.applies_from is null or ranked.ordered_at >= rate_periods.applies_from)
            and (rate_periods.applies_until is null or ranked.ordered_at < rate_periods.applies_until)
    where ranked.version_rank = 1

)

select * from final
