-- The bands of each measure in rules/rfm_bands, sorted by min_value, must chain without
-- gap or overlap (each max_value is the next min_value), start at 0 (recency) or 1
-- (frequency: a buyer has at least one purchase), and give every score 1-5 exactly once
-- with scores running monotonically (recency: newer = higher; frequency: more = higher).
-- Returns the offending bands.
with

bands as (

    select
        measure,
        rfm_score,
        min_value,
        max_value,
        lag(max_value) over (partition by measure order by min_value) as previous_max_value,
        lag(rfm_score) over (partition by measure order by min_value) as previous_score,
        row_number() over (partition by measure order by min_value) as band_rank,
        count(*) over (partition by measure) as n_bands
    from {{ ref('rfm_bands') }}

)

select *
from bands
where
    n_bands <> 5
    or (band_rank = 1 and min_value <> case when measure = 'frequency_orders' then 1 else 0 end)
    or (band_rank > 1 and min_value <> previous_max_value)
    or (measure = 'frequency_orders' and band_rank > 1 and rfm_score <> previous_score + 1)
    or (measure <> 'frequency_orders' and band_rank > 1 and rfm_score <> previous_score - 1)
