-- Demographic fit at as_of, one row per known lead: does the lead belong to the target
-- group? (age band, country, distance to the nearest store, profile completeness).
-- Points from rules/demographic_rules; score per rules/dimension_settings.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

profiles as (

    select * from {{ ref('int_lead_profiles_as_of') }}

),

nearest_store as (

    select * from {{ ref('int_lead_nearest_store') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        spine.has_profile,
        profiles.age_years,
        profiles.country_code,
        profiles.postal_code,
        nearest_store.nearest_store_id,
        nearest_store.nearest_store_km,
        {%- set known = {
            'email': 'profiles.has_email',
            'age': 'profiles.age_years is not null',
            'country': 'profiles.country_code is not null',
            'location': 'profiles.postal_code is not null or profiles.latitude is not null',
            'marketing_consent': 'profiles.has_marketing_consent is not null',
        } %}
        {%- set fields = var('profile_completeness_fields') %}
        (
            {%- for field in fields %}
                {{ '+ ' if not loop.first }}case when {{ known[field] }} then 1 else 0 end
            {%- endfor %}
        ) / {{ fields | length }}.0 as profile_completeness,
        dimension_scores.demographic_raw_points as raw_points,
        dimension_scores.demographic_score
    from spine
    inner join dimension_scores
        on spine.lead_id = dimension_scores.lead_id
    left join profiles
        on spine.lead_id = profiles.lead_id
    left join nearest_store
        on spine.lead_id = nearest_store.lead_id

)

select * from final
