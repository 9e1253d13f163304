-- The lead score mart that BI tools read: one row per known lead at as_of, with the
-- 0-100 score, the four dimension scores, the grade x tier grid, lifecycle stage, top
-- category, RFM segment, recommended action, the reasons, how the score moved, and the
-- predictive score (int_lead_predictions: purchase probability, expected orders and value).
-- Score movement compares with *published* scorings only (landing._publications: a
-- scoring whose quality gates failed never reached BI, so nobody saw it move):
--   score_change     since the latest published scoring of an earlier day
--                    ("since yesterday" on a daily schedule; runs later the same day
--                    do not reset it)
--   score_change_7d  since the latest published scoring at least 7 days before as_of
-- Both reference scorings are single as_of values found in the small _publications
-- table, then matched by an equality join on as_of: the lookup reads one as_of's rows of
-- the history, not the whole history (DuckDB pushes the join's as_of into the scan and
-- skips the other row groups by their zonemaps: 200k of 12M rows read for 60 days of
-- 200k leads; Spark prunes the as_of partitions). Keep it an equality join on one as_of,
-- not a window over every lead's history. A lead missing from that scoring has no
-- previous score (null), by design: the change is against what BI showed then.
with

current_scores as (

    select * from {{ ref('int_lead_scores_current') }}

),

published as (

    select distinct as_of from {{ source('landing', '_publications') }}

),

history as (

    select * from {{ ref('lead_score_history') }}

),

predictions as (

    select * from {{ ref('int_lead_predictions') }}

),

reference_points as (

    select
        max(
            case when as_of < cast({{ as_of_date() }} as {{ dbt.type_timestamp() }}) then as_of end
        ) as previous_as_of,
        max(
            case when as_of <= {{ dbt.dateadd('day', -7, as_of()) }} then as_of end
        ) as week_ago_as_of
    from published

),

previous as (

    select
        history.lead_id,
        history.as_of as previous_as_of,
        history.lead_score as previous_lead_score
    from history
    inner join reference_points
        on history.as_of = reference_points.previous_as_of

),

week_ago as (

    select
        history.lead_id,
        history.lead_score as week_ago_lead_score
    from history
    inner join reference_points
        on history.as_of = reference_points.week_ago_as_of

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
        current_scores.lifecycle_stage_label,
        current_scores.top_category,
        current_scores.rfm_segment,
        current_scores.recommended_action,
        current_scores.recommended_action_label,
        current_scores.recommended_channel,
        current_scores.score_reasons,
        current_scores.lead_score - previous.previous_lead_score as score_change,
        previous.previous_lead_score,
        previous.previous_as_of,
        current_scores.lead_score - week_ago.week_ago_lead_score as score_change_7d,
        current_scores.is_contactable,
        current_scores.has_marketing_consent,
        current_scores.has_open_abandoned_cart,
        current_scores.has_local_intent,
        current_scores.local_store_id,
        current_scores.completed_orders,
        cast(current_scores.days_since_last_visit as integer) as days_since_last_visit,
        predictions.purchase_probability,
        predictions.propensity_score,
        predictions.propensity_method,
        predictions.propensity_reasons,
        predictions.expected_orders,
        predictions.expected_value_eur,
        predictions.model_version
    from current_scores
    left join predictions
        on current_scores.lead_id = predictions.lead_id
    left join previous
        on current_scores.lead_id = previous.lead_id
    left join week_ago
        on current_scores.lead_id = week_ago.lead_id

)

select * from final
