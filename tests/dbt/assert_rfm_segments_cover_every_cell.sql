-- Every (recency, frequency) quintile cell 1-5 x 1-5 must map to an RFM segment.
with

quintiles as (

    select 1 as q
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5

),

cells as (

    select
        recency.q as recency_quintile,
        frequency.q as frequency_quintile
    from quintiles as recency
    cross join quintiles as frequency

),

segments as (

    select * from {{ ref('rfm_segments') }}

)

select cells.*
from cells
left join segments
    on
        cells.recency_quintile between segments.min_recency_quintile and segments.max_recency_quintile
        and cells.frequency_quintile between segments.min_frequency_quintile and segments.max_frequency_quintile
where segments.rfm_segment is null
