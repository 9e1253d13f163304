{{ config(materialized='view') }}

-- Every rule's points per lead at as_of in one place: behaviour rules (with the repeat
-- purchase ladder) and demographic rules. Read by the dimension scores and by the
-- contributions behind score_reasons.
with

behaviour as (

    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        points
    from {{ ref('int_behaviour_rule_points') }}

),

demographic as (

    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        points
    from {{ ref('int_demographic_rule_points') }}

),

final as (

    select * from behaviour
    union all
    select * from demographic

)

select * from final
