-- The four dimension scores and the combined scores of every known lead at as_of.
--   dimension score = normalise(sum of the dimension's rule points)      (rules/dimension_settings)
--     linear:     100 * clamp(points, 0, max_raw_points) / max_raw_points
--     saturating: 100 * (1 - exp(-clamp(points, 0, max_raw_points) / saturation_points))
--   lead_score      = sum(weight * score) / sum(weight) over the dimensions the shop feeds
--                     (profiles -> demographic; events -> engagement, page intent;
--                      events or orders -> purchase), so a shop with only orders is
--                     ranked on purchase behaviour alone
--   behaviour_score = the same over engagement, page intent and purchase
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}

),

settings as (

    select * from {{ ref('dimension_settings') }}

),

available as (

    select
        max(case when has_profile then 1 else 0 end) as has_profiles,
        max(case when has_events then 1 else 0 end) as has_events,
        max(case when has_events or has_orders then 1 else 0 end) as has_purchase_data
    from spine

),

effective_settings as (

    select
        settings.dimension,
        settings.max_raw_points,
        settings.normalisation,
        settings.saturation_points,
        settings.weight * case settings.dimension
            when 'demographic' then available.has_profiles
            when 'purchase' then available.has_purchase_data
            else available.has_events
        end as effective_weight
    from settings
    cross join available

),

points_per_dimension as (

    select
        lead_id,
        dimension,
        -- rounded: the sum of floats must not depend on the order rows arrive in
        round(sum(points), 6) as raw_points
    from rule_points
    group by lead_id, dimension

),

dimension_scores as (

    select
        spine.lead_id,
        effective_settings.dimension,
        effective_settings.effective_weight,
        coalesce(points_per_dimension.raw_points, 0) as raw_points,
        {{ normalise_score(
            'coalesce(points_per_dimension.raw_points, 0)',
            'effective_settings.max_raw_points',
            'effective_settings.normalisation',
            'effective_settings.saturation_points') }} as score
    from spine
    cross join effective_settings
    left join points_per_dimension
        on
            spine.lead_id = points_per_dimension.lead_id
            and effective_settings.dimension = points_per_dimension.dimension

),

pivoted as (

    select
        lead_id,
        max(case when dimension = 'demographic' then raw_points end) as demographic_raw_points,
        max(case when dimension = 'engagement' then raw_points end) as engagement_raw_points,
        max(case when dimension = 'page_intent' then raw_points end) as page_intent_raw_points,
        max(case when dimension = 'purchase' then raw_points end) as purchase_raw_points,
        max(case when dimension = 'demographic' then score end) as demographic_score,
        max(case when dimension = 'engagement' then score end) as engagement_score,
        max(case when dimension = 'page_intent' then score end) as page_intent_score,
        max(case when dimension = 'purchase' then score end) as purchase_score,
        max(case when dimension = 'demographic' then effective_weight end) as w_demographic,
        max(case when dimension = 'engagement' then effective_weight end) as w_engagement,
        max(case when dimension = 'page_intent' then effective_weight end) as w_page_intent,
        max(case when dimension = 'purchase' then effective_weight end) as w_purchase
    from dimension_scores
    group by lead_id

),

final as (

    -- the weighted means are written out term by term (not as an aggregate) so that
    -- float addition happens in one fixed order and the rounding never depends on it
    select
        lead_id,
        demographic_raw_points,
        engagement_raw_points,
        page_intent_raw_points,
        purchase_raw_points,
        demographic_score,
        engagement_score,
        page_intent_score,
        purchase_score,
        cast(coalesce(round(round(
            (
                w_demographic * demographic_score + w_engagement * engagement_score
                + w_page_intent * page_intent_score + w_purchase * purchase_score
            ) / nullif(w_demographic + w_engagement + w_page_intent + w_purchase, 0),
            6
        ), 0), 0) as integer) as lead_score,
        cast(coalesce(round(round(
            (w_engagement * engagement_score + w_page_intent * page_intent_score + w_purchase * purchase_score)
            / nullif(w_engagement + w_page_intent + w_purchase, 0),
            6
        ), 0), 0) as integer) as behaviour_score,
        -- each dimension's share of lead_score (0 for a dimension the shop does not feed)
        {% for dimension in ['demographic', 'engagement', 'page_intent', 'purchase'] -%}
            coalesce(
                w_{{ dimension }} / nullif(w_demographic + w_engagement + w_page_intent + w_purchase, 0), 0
            ) as {{ dimension }}_weight_share{% if not loop.last %},{% endif %}
        {% endfor -%}
    from pivoted

)

select * from final
