-- The multidimensional interest profile: one row per lead and product category at
-- as_of, with decayed interest, its share of the lead's interest, a 0-100 interest score
-- and the category's rank for that lead (1 = top category).
with

interest as (

    select * from {{ ref('int_lead_category_interest') }}

),

spine as (

    select lead_id from {{ ref('int_lead_spine') }}

),

final as (

    select
        interest.lead_id,
        {{ as_of() }} as as_of,
        interest.product_category,
        interest.interest_rank,
        interest.interest_score,
        interest.interest_points,
        interest.interest_share,
        interest.events_medium,
        interest.events_total,
        interest.last_event_at
    from interest
    inner join spine
        on interest.lead_id = spine.lead_id

)

select * from final
