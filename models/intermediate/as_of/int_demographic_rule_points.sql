-- Profile attributes priced by rules/demographic_rules, one row per lead and rule.
-- Attributes: age_band (rules/age_bands), country, distance_band to the nearest store
-- (rules/distance_bands), gender (0 points by default), profile_field (completeness).
with

profiles as (

    select * from {{ ref('int_lead_profiles_as_of') }}

),

nearest_store as (

    select * from {{ ref('int_lead_nearest_store') }}

),

age_bands as (

    select * from {{ ref('age_bands') }}

),

distance_bands as (

    select * from {{ ref('distance_bands') }}

),

rules as (

    select * from {{ ref('demographic_rules') }}

),

attributes as (

    select
        profiles.lead_id,
        'age_band' as attribute_name,
        age_bands.age_band as attribute_value
    from profiles
    inner join age_bands
        on profiles.age_years between age_bands.min_age and age_bands.max_age
    union all
    select
        lead_id,
        'country' as attribute_name,
        country_code as attribute_value
    from profiles
    where country_code is not null
    union all
    select
        nearest_store.lead_id,
        'distance_band' as attribute_name,
        distance_bands.distance_band as attribute_value
    from nearest_store
    inner join distance_bands
        on
            nearest_store.nearest_store_km >= distance_bands.min_km
            and nearest_store.nearest_store_km < distance_bands.max_km
    union all
    select
        lead_id,
        'gender' as attribute_name,
        gender as attribute_value
    from profiles
    where gender is not null
    union all
    select
        lead_id,
        'profile_field' as attribute_name,
        'email' as attribute_value
    from profiles
    where has_email
    union all
    select
        lead_id,
        'profile_field' as attribute_name,
        'age' as attribute_value
    from profiles
    where age_years is not null
    union all
    select
        lead_id,
        'profile_field' as attribute_name,
        'location' as attribute_value
    from profiles
    where postal_code is not null or latitude is not null
    union all
    select
        lead_id,
        'profile_field' as attribute_name,
        'marketing_consent' as attribute_value
    from profiles
    where has_marketing_consent

),

final as (

    select
        attributes.lead_id,
        'demographic' as dimension,
        rules.rule_id,
        rules.label as rule_label,
        1.0 as units,
        cast(rules.points as {{ dbt.type_float() }}) as points
    from attributes
    inner join rules
        on
            attributes.attribute_name = rules.attribute
            and attributes.attribute_value = rules.attribute_value

)

select * from final
