-- The store nearest to each lead's home (great-circle distance), among the stores open
-- at as_of, for leads whose profile has coordinates at as_of.
with

profiles as (

    select
        lead_id,
        latitude,
        longitude
    from {{ ref('int_lead_profiles_as_of') }}
    where latitude is not null and longitude is not null

),

stores as (

    select * from {{ ref('stores') }}
    where {{ store_is_open('opened_on') }}

),

distances as (

    select
        profiles.lead_id,
        stores.store_id,
        {{ haversine_km('profiles.latitude', 'profiles.longitude', 'stores.latitude', 'stores.longitude') }} as distance_km
    from profiles
    cross join stores

),

ranked as (

    select
        *,
        row_number() over (partition by lead_id order by distance_km, store_id) as distance_rank
    from distances

),

final as (

    select
        lead_id,
        store_id as nearest_store_id,
        cast(distance_km as {{ dbt.type_float() }}) as nearest_store_km
    from ranked
    where distance_rank = 1

)

select * from final
