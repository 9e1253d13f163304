-- rules/rfm_segments against the 5 x 5 grid of (recency, frequency) scores: every cell
-- must match a segment, and every segment must be the first match (by priority) of at
-- least one cell (a segment hidden behind higher-priority ones is never assigned).
-- Returns the uncovered cells and the unreachable segments.
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

cells as (

    select
        recency.score as recency_score,
        frequency.score as frequency_score
    from scores as recency
    cross join scores as frequency

),

matches as (

    select
        cells.recency_score,
        cells.frequency_score,
        segments.rfm_segment,
        row_number() over (
            partition by cells.recency_score, cells.frequency_score
            order by segments.segment_priority
        ) as match_rank
    from cells
    left join segments
        on
            cells.recency_score between segments.min_recency_score and segments.max_recency_score
            and cells.frequency_score between segments.min_frequency_score and segments.max_frequency_score

)

select
    'uncovered cell' as problem,
    cast(recency_score as {{ dbt.type_string() }}) as recency_score,
    cast(frequency_score as {{ dbt.type_string() }}) as frequency_score,
    null as rfm_segment
from matches
where rfm_segment is null
union all
select
    'unreachable segment' as problem,
    null as recency_score,
    null as frequency_score,
    segments.rfm_segment
from segments
left join matches
    on segments.rfm_segment = matches.rfm_segment and matches.match_rank = 1
where matches.rfm_segment is null
