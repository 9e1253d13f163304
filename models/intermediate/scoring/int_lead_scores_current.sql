-- The combined scoring at as_of, one row per known lead (lead_score and behaviour_score
-- come from int_lead_dimension_scores):
--   fit_grade       = rules/fit_grades by demographic score; engagement_tier = rules/engagement_tiers
--                     by behaviour score; lifecycle_stage = first row of rules/lifecycle_stages
--                     whose thresholds hold; recommended_action = first row of
--                     rules/recommended_actions matching stage, condition and permission
--                     (requires_consent: marketing consent; channel email: a deliverable
--                     e-mail too; see int_lead_consents).
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

demographic as (

    select * from {{ ref('demographic_scores') }}

),

engagement as (

    select * from {{ ref('engagement_scores') }}

),

page_intent as (

    select * from {{ ref('page_intent_scores') }}

),

purchase as (

    select * from {{ ref('purchase_scores') }}

),

consents as (

    select * from {{ ref('int_lead_consents') }}

),

reasons as (

    select * from {{ ref('int_lead_score_reasons') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

fit_grades as (

    select * from {{ ref('fit_grades') }}

),

tiers as (

    select * from {{ ref('engagement_tiers') }}

),

stages as (

    select * from {{ ref('lifecycle_stages') }}

),

actions as (

    select * from {{ ref('recommended_actions') }}

),

rfm_segments as (

    select * from {{ ref('rfm_segments') }}

),

combined as (

    select
        spine.lead_id,
        spine.has_profile,
        demographic.demographic_score,
        engagement.engagement_score,
        page_intent.page_intent_score,
        purchase.purchase_score,
        dimension_scores.lead_score,
        dimension_scores.behaviour_score,
        page_intent.top_category,
        page_intent.viewed_store_id,
        page_intent.store_hours_views_recent,
        demographic.nearest_store_id,
        demographic.nearest_store_km,
        engagement.is_frequent_unfocused,
        engagement.has_product_focus,
        engagement.days_since_last_visit,
        purchase.completed_orders,
        purchase.has_open_abandoned_cart,
        purchase.rfm_segment,
        coalesce(consents.has_marketing_consent, false) as has_marketing_consent,
        coalesce(consents.is_email_deliverable, false) as is_email_deliverable
    from spine
    inner join dimension_scores on spine.lead_id = dimension_scores.lead_id
    inner join demographic on spine.lead_id = demographic.lead_id
    inner join engagement on spine.lead_id = engagement.lead_id
    inner join page_intent on spine.lead_id = page_intent.lead_id
    inner join purchase on spine.lead_id = purchase.lead_id
    left join consents on spine.lead_id = consents.lead_id

),

flagged as (

    select
        combined.*,
        combined.store_hours_views_recent > 0
        or coalesce(combined.nearest_store_km <= {{ var('local_intent_max_km') }}, false) as has_local_intent,
        coalesce(
            combined.viewed_store_id,
            case when combined.nearest_store_km <= {{ var('local_intent_max_km') }} then combined.nearest_store_id end
        ) as local_store_id,
        combined.has_marketing_consent and combined.is_email_deliverable as is_contactable,
        coalesce(rfm_segments.is_at_risk, false) as is_rfm_at_risk
    from combined
    left join rfm_segments
        on combined.rfm_segment = rfm_segments.rfm_segment

),

graded as (

    select
        flagged.lead_id,
        max(fit_grades.min_demographic_score) as grade_floor,
        max(tiers.min_behaviour_score) as tier_floor
    from flagged
    inner join fit_grades
        on flagged.demographic_score >= fit_grades.min_demographic_score
    inner join tiers
        on flagged.behaviour_score >= tiers.min_behaviour_score
    group by flagged.lead_id

),

staged as (

    select
        flagged.lead_id,
        stages.lifecycle_stage,
        stages.label as lifecycle_stage_label,
        row_number() over (
            partition by flagged.lead_id
            order by stages.stage_priority
        ) as stage_rank
    from flagged
    inner join stages
        on
            flagged.completed_orders >= stages.min_completed_orders
            and (not stages.requires_open_abandoned_cart or flagged.has_open_abandoned_cart)
            and (stages.min_lead_score is null or flagged.lead_score >= stages.min_lead_score)
            and (stages.min_engagement_score is null or flagged.engagement_score >= stages.min_engagement_score)
            and (not stages.requires_profile or flagged.has_profile)

),

lead_conditions as (

    select
        lead_id,
        'any' as lead_condition
    from flagged
    union all
    select
        lead_id,
        'rfm_at_risk' as lead_condition
    from flagged
    where is_rfm_at_risk
    union all
    select
        lead_id,
        'local_intent' as lead_condition
    from flagged
    where has_local_intent
    union all
    select
        lead_id,
        'product_focus' as lead_condition
    from flagged
    where has_product_focus
    union all
    select
        lead_id,
        'frequent_unfocused' as lead_condition
    from flagged
    where is_frequent_unfocused
    union all
    select
        lead_id,
        'open_abandoned_cart' as lead_condition
    from flagged
    where has_open_abandoned_cart

),

actioned as (

    select
        flagged.lead_id,
        actions.recommended_action,
        actions.channel,
        actions.label as recommended_action_label,
        row_number() over (
            partition by flagged.lead_id
            order by actions.action_priority
        ) as action_rank
    from flagged
    inner join staged
        on flagged.lead_id = staged.lead_id and staged.stage_rank = 1
    inner join lead_conditions
        on flagged.lead_id = lead_conditions.lead_id
    inner join actions
        on
            (staged.lifecycle_stage = actions.lifecycle_stage or actions.lifecycle_stage = 'any')
            and lead_conditions.lead_condition = actions.lead_condition
            and (not actions.requires_consent or flagged.has_marketing_consent)
            and (actions.channel <> 'email' or flagged.is_email_deliverable)

),

final as (

    select
        flagged.lead_id,
        {{ as_of() }} as as_of,
        flagged.lead_score,
        flagged.demographic_score,
        flagged.engagement_score,
        flagged.page_intent_score,
        flagged.purchase_score,
        flagged.behaviour_score,
        fit_grades.fit_grade,
        tiers.engagement_tier,
        {{ dbt.concat(['fit_grades.fit_grade', 'cast(tiers.engagement_tier as ' ~ dbt.type_string() ~ ')']) }} as score_cell,
        staged.lifecycle_stage,
        staged.lifecycle_stage_label,
        flagged.top_category,
        flagged.rfm_segment,
        actioned.recommended_action,
        actioned.recommended_action_label,
        actioned.channel as recommended_channel,
        coalesce(reasons.score_reasons, 'No scoring signal yet') as score_reasons,
        flagged.is_contactable,
        flagged.has_marketing_consent,
        flagged.has_open_abandoned_cart,
        flagged.has_local_intent,
        flagged.local_store_id,
        flagged.is_frequent_unfocused,
        flagged.completed_orders,
        flagged.days_since_last_visit
    from flagged
    inner join graded
        on flagged.lead_id = graded.lead_id
    inner join fit_grades
        on graded.grade_floor = fit_grades.min_demographic_score
    inner join tiers
        on graded.tier_floor = tiers.min_behaviour_score
    inner join staged
        on flagged.lead_id = staged.lead_id and staged.stage_rank = 1
    inner join actioned
        on flagged.lead_id = actioned.lead_id and actioned.action_rank = 1
    left join reasons
        on flagged.lead_id = reasons.lead_id

)

select * from final
