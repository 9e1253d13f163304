-- rules/campaigns: one row per problem. A control share must be in [0, 1) (1 would send
-- nobody), the channel one that reaches a lead outside the site, and the action and
-- segment ones the scoring can produce (any matches all), with a channel that agrees with
-- the action's (an e-mail campaign for an ads-only action would never reach anyone).

-- Dagster shows this test as an asset check on the campaigns seed (it also reads
-- recommended_actions and rfm_segments).
{{ config(meta={'dagster': {'ref': {'name': 'campaigns'}}}) }}

with

campaigns as (

    select * from {{ ref('campaigns') }}

),

actions as (

    select distinct
        recommended_action,
        channel
    from {{ ref('recommended_actions') }}

),

segments as (

    select rfm_segment from {{ ref('rfm_segments') }}

),

problems as (

    select
        campaigns.campaign_id,
        'control_share must be in [0, 1)' as problem
    from campaigns
    where campaigns.control_share is null or campaigns.control_share < 0 or campaigns.control_share >= 1

    union all

    select
        campaigns.campaign_id,
        'channel must be email, ads or sales' as problem
    from campaigns
    where campaigns.channel is null or campaigns.channel not in ('email', 'ads', 'sales')

    union all

    select
        campaigns.campaign_id,
        'cooldown_days must be >= 0' as problem
    from campaigns
    where campaigns.cooldown_days is null or campaigns.cooldown_days < 0

    union all

    select
        campaigns.campaign_id,
        'recommended_action is not in rules/recommended_actions' as problem
    from campaigns
    where
        campaigns.recommended_action != 'any'
        and not exists (
            select 1 from actions
            where actions.recommended_action = campaigns.recommended_action
        )

    union all

    select
        campaigns.campaign_id,
        'the channel differs from the recommended action''s' as problem
    from campaigns
    where
        campaigns.recommended_action != 'any'
        and exists (
            select 1 from actions
            where actions.recommended_action = campaigns.recommended_action
        )
        and not exists (
            select 1 from actions
            where
                actions.recommended_action = campaigns.recommended_action
                and actions.channel = campaigns.channel
        )

    union all

    select
        campaigns.campaign_id,
        'rfm_segment is not in rules/rfm_segments' as problem
    from campaigns
    where
        campaigns.rfm_segment != 'any'
        and not exists (
            select 1 from segments
            where segments.rfm_segment = campaigns.rfm_segment
        )

)

select * from problems
