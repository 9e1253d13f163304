-- The "why" of each lead's score: the var('score_reasons_top_n') rules that moved it
-- most (by absolute points after decay and caps), e.g.
-- "Left items in the cart (+20); Product pages (+14); Unsubscribed (-30)".
with

rule_points as (

    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        points
    from {{ ref('int_behaviour_rule_points') }}
    union all
    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        points
    from {{ ref('int_demographic_rule_points') }}

),

rounded as (

    select
        lead_id,
        rule_id,
        rule_label,
        cast(round(points, 0) as integer) as points
    from rule_points

),

ranked as (

    select
        lead_id,
        rule_id,
        {{ dbt.concat([
            "rule_label", "' ('",
            "case when points > 0 then '+' else '' end",
            "cast(points as " ~ dbt.type_string() ~ ")", "')'"
        ]) }} as reason,
        row_number() over (
            partition by lead_id
            order by abs(points) desc, rule_id
        ) as reason_rank
    from rounded
    where points <> 0

),

final as (

    select
        lead_id,
        {{ dbt.listagg('reason', "'; '", 'order by reason_rank') }} as score_reasons
    from ranked
    where reason_rank <= {{ var('score_reasons_top_n') }}
    group by lead_id

)

select * from final
