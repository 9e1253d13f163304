-- The features of the predictive score: one row per known lead at as_of, gathered from
-- the as_of models that price the rule score (no second implementation). Training
-- rebuilds this model and its as_of ancestors at past snapshot dates and scoring reads it
-- at the current as_of, so the model learns and scores on the very same SQL. Nothing at
-- or after as_of counts: every input already guarantees it.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

profiles as (

    select * from {{ ref('int_lead_profiles_as_of') }}

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

rfm as (

    select * from {{ ref('int_purchase_rfm') }}

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        spine.has_profile,
        spine.has_events,
        spine.has_orders,
        dimension_scores.lead_score,
        dimension_scores.behaviour_score,
        dimension_scores.demographic_score,
        dimension_scores.engagement_score,
        dimension_scores.page_intent_score,
        dimension_scores.purchase_score,
        dimension_scores.demographic_raw_points,
        dimension_scores.engagement_raw_points,
        dimension_scores.page_intent_raw_points,
        dimension_scores.purchase_raw_points,
        demographic.age_years,
        profiles.gender,
        demographic.country_code,
        profiles.acquisition_channel,
        profiles.has_marketing_consent,
        demographic.nearest_store_km,
        demographic.profile_completeness,
        {{ days_before_as_of('profiles.created_at') }} as days_since_signup,
        engagement.sessions_short,
        engagement.sessions_medium,
        engagement.sessions_long,
        engagement.active_days_short,
        engagement.active_days_medium,
        engagement.active_days_long,
        engagement.days_since_last_visit,
        engagement.email_opens_medium,
        engagement.email_clicks_medium,
        engagement.has_email_bounced,
        engagement.last_unsubscribed_at is not null as has_unsubscribed,
        engagement.top_product_view_days,
        engagement.product_focus_ratio,
        engagement.has_product_focus,
        engagement.is_frequent_unfocused,
        page_intent.product_page_views_medium,
        page_intent.category_page_views_medium,
        page_intent.searches_medium,
        page_intent.store_hours_views_recent,
        page_intent.negative_page_views_long,
        page_intent.top_category,
        page_intent.top_category_share,
        purchase.cart_adds_medium,
        purchase.checkouts_started_medium,
        purchase.abandoned_carts,
        purchase.days_since_abandoned_cart,
        purchase.has_open_abandoned_cart,
        purchase.completed_orders,
        purchase.failed_orders,
        purchase.days_since_last_order,
        {{ days_before_as_of('purchase.first_order_at') }} as days_since_first_order,
        purchase.lifetime_value_eur,
        purchase.buyer_type,
        purchase.rfm_recency_score,
        purchase.rfm_frequency_score,
        purchase.rfm_segment,
        rfm.rfm_monetary_eur,
        rfm.rfm_expected_gap_days
    from spine
    inner join dimension_scores on spine.lead_id = dimension_scores.lead_id
    inner join demographic on spine.lead_id = demographic.lead_id
    inner join engagement on spine.lead_id = engagement.lead_id
    inner join page_intent on spine.lead_id = page_intent.lead_id
    inner join purchase on spine.lead_id = purchase.lead_id
    left join profiles on spine.lead_id = profiles.lead_id
    left join rfm on spine.lead_id = rfm.lead_id

)

select * from final
