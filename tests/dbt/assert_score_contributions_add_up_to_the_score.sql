-- Two computations of the same score must agree: the contributions of a lead's rules
-- (int_lead_rule_contributions, shared from exact dimension scores) add up to its
-- lead_score (int_lead_dimension_scores, from rounded dimension scores), up to that
-- rounding (at most 0.5 per dimension score and 0.5 for lead_score). Returns the leads
-- where they disagree: a wrong weight, normalisation or cap in either.

-- Dagster shows this test as an asset check on int_lead_rule_contributions (it reads two
-- models; the contributions are what score_reasons explain).
{{ config(meta={'dagster': {'ref': {'name': 'int_lead_rule_contributions'}}}) }}

with

contributions as (

    select
        lead_id,
        sum(score_contribution) as contributed
    from {{ ref('int_lead_rule_contributions') }}
    group by lead_id

),

scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

)

select
    scores.lead_id,
    scores.lead_score,
    coalesce(contributions.contributed, 0) as contributed
from scores
left join contributions
    on scores.lead_id = contributions.lead_id
where abs(scores.lead_score - coalesce(contributions.contributed, 0)) > 1.0
