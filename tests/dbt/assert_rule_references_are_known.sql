-- Rules must name things that exist: event types, page types, stages and bands.

-- Dagster shows this test as an asset check on scoring_rules (it reads several rule and
-- reference tables; scoring_rules is the one analysts edit most).
{{ config(meta={'dagster': {'ref': {'name': 'scoring_rules'}}}) }}

with

scoring_rules as (

    select * from {{ ref('scoring_rules') }}

),

actions as (

    select * from {{ ref('recommended_actions') }}

),

demographic_rules as (

    select * from {{ ref('demographic_rules') }}

),

unknown_references as (

    select
        'scoring_rules' as rule_table,
        scoring_rules.rule_id as rule_key,
        scoring_rules.key_pattern as unknown_value
    from scoring_rules
    where
        scoring_rules.signal_type = 'event_type'
        and scoring_rules.key_pattern not in (select event_types.event_type from {{ ref('event_types') }} as event_types)
    union all
    select
        'scoring_rules' as rule_table,
        scoring_rules.rule_id as rule_key,
        scoring_rules.key_pattern as unknown_value
    from scoring_rules
    where
        scoring_rules.signal_type = 'page_type'
        and scoring_rules.key_pattern not in (select page_types.page_type from {{ ref('page_types') }} as page_types)
    union all
    -- the return days to the most viewed product decay with one half-life, carried per
    -- lead and product (int_lead_product_state): every `focus` rule names the same group
    select
        'scoring_rules' as rule_table,
        scoring_rules.rule_id as rule_key,
        scoring_rules.action_group as unknown_value
    from scoring_rules
    where
        scoring_rules.signal_type = 'focus'
        and (
            select count(distinct focus_rules.action_group)
            from scoring_rules as focus_rules
            where focus_rules.signal_type = 'focus'
        ) > 1
    union all
    select
        'recommended_actions' as rule_table,
        actions.recommended_action as rule_key,
        actions.lifecycle_stage as unknown_value
    from actions
    where
        actions.lifecycle_stage <> 'any'
        and actions.lifecycle_stage not in (
            select lifecycle.lifecycle_stage from {{ ref("lifecycle_stages") }} as lifecycle
        )
    union all
    select
        'demographic_rules' as rule_table,
        demographic_rules.rule_id as rule_key,
        demographic_rules.attribute_value as unknown_value
    from demographic_rules
    where
        (
            demographic_rules.attribute = 'age_band'
            and demographic_rules.attribute_value not in (
                select age_bands.age_band from {{ ref('age_bands') }} as age_bands
            )
        )
        or (
            demographic_rules.attribute = 'distance_band'
            and demographic_rules.attribute_value not in (
                select distance_bands.distance_band from {{ ref('distance_bands') }} as distance_bands
            )
        )

)

select * from unknown_references
