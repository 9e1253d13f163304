-- The "why" of each lead's score: the var('score_reasons_top_n') rules that moved
-- lead_score most, ranked by and shown with their contribution in score points
-- (int_lead_rule_contributions: weights and normalisation applied), as sentences, e.g.
-- "Left items in the cart added 12.6 points. Unsubscribed took 3.0 points off."
-- Contributions that round to 0.0 are left out.
with

contributions as (

    select * from {{ ref('int_lead_rule_contributions') }}

),

rounded as (

    select
        lead_id,
        rule_id,
        rule_label,
        round(score_contribution, 1) as score_contribution
    from contributions

),

ranked as (

    select
        lead_id,
        rule_id,
        {{ dbt.concat([
            "rule_label",
            "case when score_contribution > 0 then ' added ' else ' took ' end",
            "cast(abs(score_contribution) as " ~ dbt.type_string() ~ ")",
            "case when score_contribution > 0 then ' points.' else ' points off.' end"
        ]) }} as reason,
        row_number() over (
            partition by lead_id
            order by abs(score_contribution) desc, rule_id
        ) as reason_rank
    from rounded
    where score_contribution <> 0

),

final as (

    select
        lead_id,
        {{ ordered_string_agg('reason', "' '", 'reason_rank') }} as score_reasons
    from ranked
    where reason_rank <= {{ var('score_reasons_top_n') }}
    group by lead_id

)

select * from final
