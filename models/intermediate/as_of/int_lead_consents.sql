-- Marketing consent at as_of, one row per lead that has a profile or a consent event.
-- Consent is withdrawn by any statement that says no and comes back only through an
-- explicit yes that is later than the last no (GDPR: a CRM address change that never
-- touched the consent flag is not a yes):
--   yes: a `subscribe` event; a profile version with marketing_consent true and a
--        consent_updated_at (the time the lead gave it)
--   no:  an `unsubscribe` event; a profile version with marketing_consent false (at its
--        consent_updated_at, else its version time)
--   a profile version saying true without consent_updated_at is only the starting
--   point: it counts when no dated statement exists at all.
-- A bounced e-mail makes the lead unreachable by e-mail until a later yes (a new
-- confirmation, usually with a new address).
with

profile_versions as (

    -- versions known at as_of (the rule of int_lead_profiles_as_of), with a statement
    -- made before as_of
    select * from {{ ref('stg_landing__leads') }}
    where
        has_marketing_consent is not null
        and version_at < {{ as_of() }}
        and (created_at is null or created_at < {{ as_of() }})
        and (consent_updated_at is null or consent_updated_at < {{ as_of() }})

),

profiles as (

    select * from {{ ref('int_lead_profiles_as_of') }}

),

activity as (

    -- the latest subscribe, unsubscribe and bounce events before as_of
    select * from {{ ref('int_lead_activity_as_of') }}

),

statements as (

    select
        lead_id,
        consent_updated_at as stated_at,
        has_marketing_consent as is_consent
    from profile_versions
    where has_marketing_consent and consent_updated_at is not null
    union all
    select
        lead_id,
        coalesce(consent_updated_at, version_at) as stated_at,
        has_marketing_consent as is_consent
    from profile_versions
    where not has_marketing_consent
    union all
    select
        lead_id,
        last_subscribed_at as stated_at,
        true as is_consent
    from activity
    where last_subscribed_at is not null
    union all
    select
        lead_id,
        last_unsubscribed_at as stated_at,
        false as is_consent
    from activity
    where last_unsubscribed_at is not null

),

per_lead as (

    select
        lead_id,
        max(case when is_consent then stated_at end) as last_opt_in_at,
        max(case when not is_consent then stated_at end) as last_opt_out_at
    from statements
    group by lead_id

),

bounces as (

    select
        lead_id,
        last_bounced_at
    from activity
    where last_bounced_at is not null

),

leads as (

    select lead_id from profiles
    union
    select lead_id from per_lead
    union
    select lead_id from bounces

),

final as (

    select
        leads.lead_id,
        per_lead.last_opt_in_at,
        per_lead.last_opt_out_at,
        bounces.last_bounced_at,
        case
            when per_lead.last_opt_in_at is null and per_lead.last_opt_out_at is null
                then coalesce(profiles.has_marketing_consent, false)
            when per_lead.last_opt_out_at is null then true
            when per_lead.last_opt_in_at is null then false
            -- a yes and a no at the same moment: no
            else per_lead.last_opt_in_at > per_lead.last_opt_out_at
        end as has_marketing_consent,
        coalesce(
            bounces.last_bounced_at is null or per_lead.last_opt_in_at > bounces.last_bounced_at,
            false
        ) as is_email_deliverable
    from leads
    left join per_lead
        on leads.lead_id = per_lead.lead_id
    left join bounces
        on leads.lead_id = bounces.lead_id
    left join profiles
        on leads.lead_id = profiles.lead_id

)

select * from final
