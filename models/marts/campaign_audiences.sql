-- Who each campaign (rules/campaigns) reaches at as_of: one row per lead in at most one
-- campaign, the lowest campaign_priority among those it qualifies for. A lead qualifies
-- when its recommended action and RFM segment match the campaign's (any matches all), the
-- channel is allowed (email and sales: contactable = marketing consent and a deliverable
-- e-mail address; ads: marketing consent; nobody without consent), and it was not sent,
-- nor held out from, this campaign in the campaign's cooldown_days before as_of (it may
-- then qualify for the next campaign). is_control: the stable hash of campaign and lead
-- (macros/cross_db.sql stable_unit_interval) falls below control_share, so the same lead
-- is in the same group of a campaign on every run and every engine; control leads are not
-- exported for sending (orchestration/serving.py).
with

leads as (

    select * from {{ ref('lead_scores') }}

),

campaigns as (

    select * from {{ ref('campaigns') }}

),

sends as (

    select
        campaign_id,
        lead_id,
        sent_at
    from {{ ref('stg_landing__campaign_sends') }}
    where sent_at < {{ as_of() }}

),

eligible as (

    select
        leads.lead_id,
        leads.as_of,
        leads.recommended_action_label,
        leads.rfm_segment,
        leads.lead_score,
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_priority,
        campaigns.channel,
        campaigns.control_share
    from leads
    inner join campaigns
        on
            (campaigns.recommended_action = 'any' or leads.recommended_action = campaigns.recommended_action)
            and (campaigns.rfm_segment = 'any' or leads.rfm_segment = campaigns.rfm_segment)
    where
        case
            when campaigns.channel in ('email', 'sales') then coalesce(leads.is_contactable, false)
            when campaigns.channel = 'ads' then coalesce(leads.has_marketing_consent, false)
            else false
        end
        and not exists (
            select 1 from sends
            where
                sends.campaign_id = campaigns.campaign_id
                and sends.lead_id = leads.lead_id
                and sends.sent_at >= {{ dbt.dateadd('day', '-1 * campaigns.cooldown_days', as_of()) }}
        )

),

ranked as (

    select
        *,
        row_number() over (
            partition by lead_id
            order by campaign_priority, campaign_id
        ) as campaign_rank
    from eligible

),

final as (

    select
        lead_id,
        campaign_id,
        channel,
        {{ dbt.concat([
            'campaign_name', "': '", 'recommended_action_label',
            "coalesce(" ~ dbt.concat(["' (RFM segment '", 'rfm_segment', "')'"]) ~ ", '')",
            "', lead score '", "cast(lead_score as " ~ dbt.type_string() ~ ")",
        ]) }} as why,
        campaign_priority as priority,
        {{ stable_unit_interval(dbt.concat(['campaign_id', "'/'", 'lead_id'])) }} < control_share as is_control,
        as_of
    from ranked
    where campaign_rank = 1

)

select * from final
