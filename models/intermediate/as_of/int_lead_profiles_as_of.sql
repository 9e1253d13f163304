-- Each lead's profile at as_of: the latest version before as_of, judged only by what was
-- known at as_of. A version's time is updated_at, else created_at, else (a version
-- delivered without either) its load time (stg_landing__leads.version_at), so a
-- timestamp-less version counts only once it was loaded. A lead exists once one of its
-- versions is known and created before as_of; a version delivered later cannot make a
-- lead exist earlier or disappear. Age at as_of is counted in calendar years.
with

versions as (

    select * from {{ ref('stg_landing__leads') }}
    where
        version_at < {{ as_of() }}
        and (created_at is null or created_at < {{ as_of() }})

),

ranked as (

    select
        *,
        min(created_at) over (partition by lead_id) as first_created_at,
        row_number() over (
            partition by lead_id
            order by version_at desc, _ingest_seq desc
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
                    then {{ age_in_years('birth_date', as_of_date()) }}
                -- an age as stated when the version was written, plus the whole years since
                when reported_age is not null
                    then reported_age + {{ age_in_years('cast(version_at as date)', as_of_date()) }}
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
