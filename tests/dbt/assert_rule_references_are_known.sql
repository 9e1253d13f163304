-- Rules must name things that exist: event types, page types and lifecycle stages.
select 'scoring_rules' as rule_table, rule_id as rule_key, key_pattern as unknown_value
from {{ ref('scoring_rules') }}
where
    signal_type = 'event_type'
    and key_pattern not in (select event_type from {{ ref('event_types') }})
union all
select 'scoring_rules' as rule_table, rule_id as rule_key, key_pattern as unknown_value
from {{ ref('scoring_rules') }}
where
    signal_type = 'page_type'
    and key_pattern not in (select page_type from {{ ref('page_types') }})
union all
select 'recommended_actions' as rule_table, recommended_action as rule_key, lifecycle_stage as unknown_value
from {{ ref('recommended_actions') }}
where
    lifecycle_stage <> 'any'
    and lifecycle_stage not in (select lifecycle_stage from {{ ref('lifecycle_stages') }})
union all
select 'demographic_rules' as rule_table, rule_id as rule_key, attribute_value as unknown_value
from {{ ref('demographic_rules') }}
where
    (attribute = 'age_band' and attribute_value not in (select age_band from {{ ref('age_bands') }}))
    or (attribute = 'distance_band' and attribute_value not in (select distance_band from {{ ref('distance_bands') }}))
