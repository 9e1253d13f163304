-- RFM at as_of over the orders of the last var('rfm_analysis_days') days that count as
-- purchases: recency (later last order = higher), frequency (orders) and monetary (EUR)
-- quintiles 1-5 among the buyers of that period (ties share a quintile), and the
-- segment: the first row of rules/rfm_segments whose R and F ranges match.
with

orders as (

    select * from {{ ref('int_orders_as_of') }}
    where
        counts_as_purchase
        and ordered_at >= {{ dbt.dateadd('day', -1 * var('rfm_analysis_days'), as_of()) }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

per_lead as (

    select
        lead_id,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(amount_eur) as monetary_eur
    from orders
    group by lead_id

),

quintiles as (

    select
        lead_id,
        last_order_at,
        frequency,
        monetary_eur,
        cast({{ quintile('last_order_at') }} as integer) as recency_quintile,
        cast({{ quintile('frequency') }} as integer) as frequency_quintile,
        cast({{ quintile('monetary_eur') }} as integer) as monetary_quintile
    from per_lead

),

matched as (

    select
        quintiles.*,
        segments.rfm_segment,
        row_number() over (
            partition by quintiles.lead_id
            order by segments.segment_priority
        ) as segment_rank
    from quintiles
    left join segments
        on
            quintiles.recency_quintile between segments.min_recency_quintile and segments.max_recency_quintile
            and quintiles.frequency_quintile between segments.min_frequency_quintile
            and segments.max_frequency_quintile

),

final as (

    select
        lead_id,
        last_order_at,
        frequency as rfm_frequency,
        monetary_eur as rfm_monetary_eur,
        recency_quintile as rfm_recency_quintile,
        frequency_quintile as rfm_frequency_quintile,
        monetary_quintile as rfm_monetary_quintile,
        rfm_segment
    from matched
    where segment_rank = 1

)

select * from final
