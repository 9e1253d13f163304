-- The lead score mart that BI tools read: one row per known lead at as_of, with the
-- 0-100 score, the four dimension scores, the grade x tier grid, lifecycle stage, top
-- category, RFM segment, recommended action, the reasons, and the change since the
-- previous scoring (from lead_score_history).
with

current_scores as (

    select * from {{ ref('int_lead_scores_current') }}

),

history as (

    select * from {{ ref('lead_score_history') }}
    where as_of < {{ as_of() }}

),

previous as (

    select
        lead_id,
        as_of as previous_as_of,
        lead_score as previous_lead_score
    from (
        select
            lead_id,
            as_of,
            lead_score,
            row_number() over (partition by lead_id order by as_of desc) as recency_rank
        from history
    ) as ranked
    where recency_rank = 1

),

final as (

    select
        current_scores.lead_id,
        current_scores.as_of,
        current_scores.lead_score,
        current_scores.demographic_score,
        current_scores.engagement_score,
        current_scores.page_intent_score,
        current_scores.purchase_score,
        current_scores.behaviour_score,
        current_scores.fit_grade,
        current_scores.engagement_tier,
        current_scores.score_cell,
        current_scores.lifecycle_stage,
        current_scores.top_category,
        current_scores.rfm_segment,
        current_scores.recommended_action,
        current_scores.score_reasons,
        current_scores.lead_score - previous.previous_lead_score as score_change,
        previous.previous_lead_score,
        previous.previous_as_of,
        current_scores.is_contactable,
        current_scores.has_open_abandoned_cart,
        current_scores.has_local_intent,
        current_scores.local_store_id,
        current_scores.completed_orders,
        cast(current_scores.days_since_last_visit as integer) as days_since_last_visit
    from current_scores
    left join previous
        on current_scores.lead_id = previous.lead_id

)

select * from final
