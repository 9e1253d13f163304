-- What each rule adds to lead_score, in score points, one row per lead and rule with
-- points. A dimension's score f(raw points) is shared among its rules (f = the
-- normalisation of rules/dimension_settings, not rounded):
--   positive rules share f(sum of positive points) in proportion to their points,
--   negative rules share f(all points) - f(sum of positive points) (what they took away),
-- and each dimension's share is weighted by its weight in lead_score. The contributions
-- of a lead add up to its lead_score up to the rounding of the dimension scores.
with

rule_points as (

    select * from {{ ref('int_lead_rule_points') }}

),

settings as (

    select * from {{ ref('dimension_settings') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

weight_shares as (

    {%- for dimension in ['demographic', 'engagement', 'page_intent', 'purchase'] %}
        select
            lead_id,
            '{{ dimension }}' as dimension,
            {{ dimension }}_weight_share as weight_share
        from dimension_scores
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

per_dimension as (

    select
        lead_id,
        dimension,
        round(sum(case when points > 0 then points else 0 end), 6) as positive_points,
        round(sum(case when points < 0 then points else 0 end), 6) as negative_points,
        round(sum(points), 6) as raw_points
    from rule_points
    group by lead_id, dimension

),

normalised as (

    select
        per_dimension.*,
        weight_shares.weight_share,
        {{ normalise_score_exact('per_dimension.positive_points', 'settings.max_raw_points',
            'settings.normalisation', 'settings.saturation_points') }} as positive_score,
        {{ normalise_score_exact('per_dimension.raw_points', 'settings.max_raw_points',
            'settings.normalisation', 'settings.saturation_points') }} as dimension_score
    from per_dimension
    inner join settings
        on per_dimension.dimension = settings.dimension
    inner join weight_shares
        on
            per_dimension.lead_id = weight_shares.lead_id
            and per_dimension.dimension = weight_shares.dimension

),

final as (

    select
        rule_points.lead_id,
        rule_points.dimension,
        rule_points.rule_id,
        rule_points.rule_label,
        rule_points.points,
        round(
            normalised.weight_share * case
                when rule_points.points > 0
                    then rule_points.points / normalised.positive_points * normalised.positive_score
                else
                    rule_points.points / normalised.negative_points
                    * (normalised.dimension_score - normalised.positive_score)
            end,
            6
        ) as score_contribution
    from rule_points
    inner join normalised
        on
            rule_points.lead_id = normalised.lead_id
            and rule_points.dimension = normalised.dimension
    where rule_points.points <> 0

)

select * from final
