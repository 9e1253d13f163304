-- Behaviour signals priced by rules/scoring_rules, one row per lead and rule:
--   per day:  least(units, max_units_per_day) * points_per_unit * decay
--   decay:    0.5 ^ (days before as_of / half_life_days of the rule's action group)
--             (no half-life = no decay)
--   per rule: the sum, capped at +/- max_rule_points
-- The days before the decay anchor come priced from the carried state, decayed to the
-- anchor (int_lead_rule_state; the return days to the most viewed product from
-- int_lead_product_views) and are rescaled to as_of: 0.5^((as_of - d)/h) =
-- 0.5^((as_of - anchor)/h) * 0.5^((anchor - d)/h). The later days are priced here.
-- plus the repeat-purchase ladder (rules/repeat_purchase_points: the highest step reached).
with

signals as (

    select * from {{ ref('int_lead_behaviour_signals') }}

),

rules as (

    select * from {{ ref('scoring_rules') }}

),

half_lives as (

    select * from {{ ref('decay_half_lives') }}

),

ladder as (

    select * from {{ ref('repeat_purchase_points') }}

),

rule_state as (

    select * from {{ ref('int_lead_rule_state') }}

),

top_products as (

    select * from {{ ref('int_lead_product_views') }}
    where product_rank = 1 and repeat_view_days > 0

),

matched as (

    -- two branches on purpose: exact keys join on equality (a hash join over every
    -- signal), LIKE patterns only ever meet the few search signals
    select
        signals.lead_id,
        signals.activity_date,
        signals.units,
        rules.rule_id,
        rules.dimension,
        rules.label,
        rules.points_per_unit,
        rules.max_units_per_day,
        rules.max_rule_points,
        rules.action_group
    from signals
    inner join rules
        on
            signals.signal_type = rules.signal_type
            and signals.signal_key = rules.key_pattern
    where rules.key_match = 'exact'
    union all
    select
        signals.lead_id,
        signals.activity_date,
        signals.units,
        rules.rule_id,
        rules.dimension,
        rules.label,
        rules.points_per_unit,
        rules.max_units_per_day,
        rules.max_rule_points,
        rules.action_group
    from signals
    inner join rules
        on
            signals.signal_type = rules.signal_type
            and signals.signal_key like rules.key_pattern
    where rules.key_match = 'like'

),

matched_per_day as (

    -- one row per lead, rule and day: a LIKE rule that matches several search terms of
    -- the same day is capped once per day, not once per term
    select
        lead_id,
        activity_date,
        rule_id,
        dimension,
        label,
        points_per_unit,
        max_units_per_day,
        max_rule_points,
        action_group,
        sum(units) as units
    from matched
    group by
        lead_id, activity_date, rule_id, dimension, label, points_per_unit, max_units_per_day,
        max_rule_points, action_group

),

daily_points as (

    select
        matched_per_day.lead_id,
        matched_per_day.rule_id,
        matched_per_day.dimension,
        matched_per_day.label,
        matched_per_day.max_rule_points,
        matched_per_day.units,
        least(matched_per_day.units, matched_per_day.max_units_per_day)
        * matched_per_day.points_per_unit
        * coalesce(
            {{ decay_factor(days_before_as_of('matched_per_day.activity_date'), 'half_lives.half_life_days') }},
            1.0
        ) as points
    from matched_per_day
    left join half_lives
        on matched_per_day.action_group = half_lives.action_group

),

carried_points as (

    select
        rule_state.lead_id,
        rules.rule_id,
        rules.dimension,
        rules.label,
        rules.max_rule_points,
        rule_state.units,
        rule_state.decayed_points
        * {{ decay_between('rule_state.anchor_date', as_of_date(), 'half_lives.half_life_days') }} as points
    from rule_state
    inner join rules
        on rule_state.rule_id = rules.rule_id
    left join half_lives
        on rules.action_group = half_lives.action_group
    union all
    -- focus/repeat_product_day: one unit per return day to the most viewed product,
    -- decayed with the half-life of the focus rules' action group
    select
        top_products.lead_id,
        rules.rule_id,
        rules.dimension,
        rules.label,
        rules.max_rule_points,
        cast(top_products.repeat_view_days as {{ dbt.type_float() }}) as units,
        least(1.0, rules.max_units_per_day) * rules.points_per_unit
        * top_products.decayed_repeat_view_days as points
    from top_products
    inner join rules
        on
            rules.signal_type = 'focus'
            and (
                (rules.key_match = 'exact' and rules.key_pattern = 'repeat_product_day')
                or (rules.key_match = 'like' and 'repeat_product_day' like rules.key_pattern)
            )

),

priced as (

    select
        lead_id,
        rule_id,
        dimension,
        label,
        max_rule_points,
        units,
        points
    from daily_points
    union all
    select
        lead_id,
        rule_id,
        dimension,
        label,
        max_rule_points,
        units,
        points
    from carried_points

),

rule_points as (

    -- rounded: the sum of floats must not depend on the order rows arrive in, nor on
    -- whether the days came from the carried state (macros/decay_state.sql, round_decayed)
    select
        lead_id,
        dimension,
        rule_id,
        label as rule_label,
        sum(units) as units,
        {{ round_decayed(
            'case
                when sum(points) < 0 then -1 * least(-1 * sum(points), max(max_rule_points))
                else least(sum(points), max(max_rule_points))
            end') }} as points
    from priced
    group by lead_id, dimension, rule_id, label

),

ladder_points as (

    select
        signals.lead_id,
        'purchase' as dimension,
        {{ dbt.concat(["'pu_repeat_'", "cast(ladder.min_completed_orders as " ~ dbt.type_string() ~ ")"]) }} as rule_id,
        ladder.label as rule_label,
        signals.units,
        cast(ladder.points as {{ dbt.type_float() }}) as points,
        row_number() over (
            partition by signals.lead_id
            order by ladder.min_completed_orders desc
        ) as step_rank
    from signals
    inner join ladder
        on signals.units >= ladder.min_completed_orders
    where signals.signal_type = 'order_count'

),

final as (

    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        units,
        points
    from rule_points
    union all
    select
        lead_id,
        dimension,
        rule_id,
        rule_label,
        units,
        points
    from ladder_points
    where step_rank = 1

)

select * from final
