-- A lead's site activity at as_of, one row per lead with events before as_of: the carried
-- state of the days before the decay anchor (int_lead_activity_state) and the recent days
-- (int_lead_signals_as_of). The last day with events, the last day with a web session,
-- and the latest subscribe, unsubscribe and bounced e-mail.
with

state as (

    select * from {{ ref('int_lead_activity_state') }}

),

recent as (

    -- event types and sessions only: every staged event has an event type (not null in
    -- stg_landing__events), so a day with any signal has an event-type row, and the
    -- other signal types (pages, products, categories, ...) add nothing to these maxima
    select * from {{ ref('int_lead_signals_as_of') }}
    where
        activity_date >= {{ decay_anchor_date() }}
        and signal_type in ('event_type', 'session')

),

recent_per_lead as (

    select
        lead_id,
        max(activity_date) as last_active_date,
        max(case when signal_type = 'session' then activity_date end) as last_visit_date,
        max(case when signal_type = 'event_type' and signal_key = 'subscribe' then last_at end)
            as last_subscribed_at,
        max(case when signal_type = 'event_type' and signal_key = 'unsubscribe' then last_at end)
            as last_unsubscribed_at,
        max(case when signal_type = 'event_type' and signal_key = 'email_bounce' then last_at end)
            as last_bounced_at
    from recent
    group by lead_id

),

final as (

    select
        lead_id,
        max(last_active_date) as last_active_date,
        max(last_visit_date) as last_visit_date,
        max(last_subscribed_at) as last_subscribed_at,
        max(last_unsubscribed_at) as last_unsubscribed_at,
        max(last_bounced_at) as last_bounced_at
    from (
        select
            lead_id,
            last_active_date,
            last_visit_date,
            last_subscribed_at,
            last_unsubscribed_at,
            last_bounced_at
        from state
        union all
        select
            lead_id,
            last_active_date,
            last_visit_date,
            last_subscribed_at,
            last_unsubscribed_at,
            last_bounced_at
        from recent_per_lead
    ) as combined
    group by lead_id

)

select * from final
