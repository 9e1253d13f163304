-- Every (recency, frequency) score cell 1-5 x 1-5 must map to an RFM segment.
-- Returns the uncovered cells.
with

scores as (

    select 1 as score
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
        recency.score as recency_score,
        frequency.score as frequency_score
    from scores as recency
    cross join scores as frequency

),

segments as (

    select * from {{ ref('rfm_segments') }}

)

select cells.*
from cells
left join segments
    on
        cells.recency_score between segments.min_recency_score and segments.max_recency_score
        and cells.frequency_score between segments.min_frequency_score and segments.max_frequency_score
where segments.rfm_segment is null
