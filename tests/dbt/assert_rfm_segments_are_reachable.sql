-- Every segment of rules/rfm_segments must be the first match (by priority) of at least
-- one (recency, frequency) score cell: a segment hidden behind higher-priority ones is
-- never assigned. Returns the unreachable segments.
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

segments as (

    select * from {{ ref('rfm_segments') }}

),

matches as (

    select
        recency.score as recency_score,
        frequency.score as frequency_score,
        segments.rfm_segment,
        row_number() over (
            partition by recency.score, frequency.score
            order by segments.segment_priority
        ) as match_rank
    from scores as recency
    cross join scores as frequency
    inner join segments
        on
            recency.score between segments.min_recency_score and segments.max_recency_score
            and frequency.score between segments.min_frequency_score and segments.max_frequency_score

)

select segments.rfm_segment
from segments
left join matches
    on segments.rfm_segment = matches.rfm_segment and matches.match_rank = 1
where matches.rfm_segment is null
