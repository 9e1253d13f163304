-- RFM at as_of over the purchases of the last var('rfm_analysis_days') days, one row per
-- buyer. Scores 1-5 come from absolute bands (rules/rfm_bands), not from ranking buyers
-- against each other, so a segment means the same on a shop of 3 buyers or 3 million:
--   recency   var('rfm_recency_basis') = 'days': days since the last purchase
--             (measure recency_days); = 'expected_gap': those days divided by the
--             customer's own mean gap between purchases (measure recency_gap_ratio; a
--             one-time buyer's expected gap is var('rfm_single_order_expected_gap_days'))
--   frequency purchases in the period (measure frequency_orders)
--   monetary  the value in EUR, reported (rfm_monetary_eur), not banded: no rule uses it
-- The segment is the first row of rules/rfm_segments whose R and F ranges match.
with

orders as (

    select * from {{ ref('int_orders_as_of') }}
    where
        counts_as_purchase
        and ordered_at >= {{ dbt.dateadd('day', -1 * var('rfm_analysis_days'), as_of()) }}

),

bands as (

    select * from {{ ref('rfm_bands') }}

),

segments as (

    select * from {{ ref('rfm_segments') }}

),

per_lead as (

    select
        lead_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as frequency,
        sum(amount_eur) as monetary_eur
    from orders
    group by lead_id

),

measured as (

    select
        *,
        {{ dbt.datediff('last_order_at', as_of(), 'second') }} / 86400.0 as days_since_last_order,
        case
            when frequency > 1
                then
                    {{ dbt.datediff('first_order_at', 'last_order_at', 'second') }}
                    / 86400.0 / (frequency - 1)
            else {{ var('rfm_single_order_expected_gap_days') }}
        end as expected_gap_days
    from per_lead

),

with_recency as (

    select
        *,
        {% if var('rfm_recency_basis') == 'days' -%}
            'recency_days' as recency_measure,
            days_since_last_order as recency_value
        {%- else -%}
            'recency_gap_ratio' as recency_measure,
            days_since_last_order / greatest(expected_gap_days, 1) as recency_value
        {%- endif %}
    from measured

),

scored as (

    select
        with_recency.*,
        recency_bands.rfm_score as recency_score,
        frequency_bands.rfm_score as frequency_score
    from with_recency
    -- left joins: a value outside every band keeps its buyer (a null score fails a test)
    left join bands as recency_bands
        on
            with_recency.recency_measure = recency_bands.measure
            and with_recency.recency_value >= recency_bands.min_value
            and with_recency.recency_value < recency_bands.max_value
    left join bands as frequency_bands
        on
            frequency_bands.measure = 'frequency_orders'
            and with_recency.frequency >= frequency_bands.min_value
            and with_recency.frequency < frequency_bands.max_value

),

matched as (

    select
        scored.*,
        segments.rfm_segment,
        row_number() over (
            partition by scored.lead_id
            order by segments.segment_priority
        ) as segment_rank
    from scored
    left join segments
        on
            scored.recency_score between segments.min_recency_score and segments.max_recency_score
            and scored.frequency_score between segments.min_frequency_score and segments.max_frequency_score

),

final as (

    select
        lead_id,
        last_order_at,
        frequency as rfm_frequency,
        monetary_eur as rfm_monetary_eur,
        round(expected_gap_days, 1) as rfm_expected_gap_days,
        cast(recency_score as integer) as rfm_recency_score,
        cast(frequency_score as integer) as rfm_frequency_score,
        rfm_segment
    from matched
    where segment_rank = 1

)

select * from final
