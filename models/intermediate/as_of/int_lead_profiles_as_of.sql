-- Each lead's profile at as_of: the latest version before as_of. A lead created on or
-- after as_of does not exist yet, whatever its other versions say: its earliest
-- created_at over all versions decides (a version without any timestamp does not make
-- it exist earlier). Age is computed at as_of.
with

all_versions as (

    select
        *,
        min(created_at) over (partition by lead_id) as lead_created_at
    from {{ ref('stg_landing__leads') }}

),

versions as (

    select * from all_versions
    where
        (version_at is null or version_at < {{ as_of() }})
        and (created_at is null or created_at < {{ as_of() }})
        and (lead_created_at is null or lead_created_at < {{ as_of() }})

),

ranked as (

    select
        *,
        min(created_at) over (partition by lead_id) as first_created_at,
        row_number() over (
            partition by lead_id
            order by case when version_at is null then 1 else 0 end, version_at desc, _ingest_seq desc
        ) as version_rank
    from versions

),

final as (

    select
        lead_id,
        version_at as profile_version_at,
        first_created_at as created_at,
        email_hash,
        has_email,
        birth_date,
        cast(
            case
                when birth_date is not null
                    then floor({{ days_before_as_of('birth_date') }} / 365.25)
                when reported_age is not null
                    then reported_age + floor(
                        coalesce({{ days_before_as_of('version_at') }}, 0) / 365.25
                    )
            end as integer
        ) as age_years,
        gender,
        country_code,
        postal_code,
        city,
        latitude,
        longitude,
        has_marketing_consent,
        acquisition_channel
    from ranked
    where version_rank = 1

)

select * from final
