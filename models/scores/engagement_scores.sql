-- Engagement at as_of, one row per known lead: how often and how recently the lead
-- comes back (sessions, active days, last visit, e-mail opens and clicks, all decayed).
-- Frequent visits without product focus earn only session points; repeated visits to
-- one product earn focus points on top. Points from rules/scoring_rules.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

-- the int_lead_signals_as_of view is read once per use, each with its own filter (a CTE
-- read twice is materialised whole, and no filter reaches the view's scan)
session_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        signal_type = 'session'
        and activity_date >= {{ as_of_date_minus([
            var('short_window_days'), var('medium_window_days'), var('long_window_days')] | max) }}

),

email_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        signal_type = 'event_type'
        and signal_key in ('email_open', 'email_click')
        and activity_date >= {{ as_of_date_minus(var('medium_window_days')) }}

),

lead_activity as (

    select * from {{ ref('int_lead_activity_as_of') }}

),

product_views as (

    select * from {{ ref('int_lead_product_views') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

sessions_per_day as (

    select
        lead_id,
        activity_date,
        count(*) as n_sessions
    from session_signal_days
    group by lead_id, activity_date

),

activity as (

    select
        lead_id,
        {{ sum_last_days('1 = 1', 'n_sessions', var('short_window_days')) }} as sessions_short,
        {{ sum_last_days('1 = 1', 'n_sessions', var('medium_window_days')) }} as sessions_medium,
        {{ sum_last_days('1 = 1', 'n_sessions', var('long_window_days')) }} as sessions_long,
        {{ sum_last_days('1 = 1', '1', var('short_window_days')) }} as active_days_short,
        {{ sum_last_days('1 = 1', '1', var('medium_window_days')) }} as active_days_medium,
        {{ sum_last_days('1 = 1', '1', var('long_window_days')) }} as active_days_long
    from sessions_per_day
    group by lead_id

),

email as (

    select
        lead_id,
        {{ sum_last_days("signal_key = 'email_open'", 'n_events', var('medium_window_days')) }} as email_opens_medium,
        {{ sum_last_days("signal_key = 'email_click'", 'n_events', var('medium_window_days')) }} as email_clicks_medium
    from email_signal_days
    group by lead_id

),

focus as (

    select
        lead_id,
        max(case when product_rank = 1 then product_id end) as top_product_id,
        max(case when product_rank = 1 then view_days end) as top_product_view_days,
        1.0 * max(case when product_rank = 1 then n_views end) / sum(n_views) as product_focus_ratio
    from product_views
    group by lead_id

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        cast(coalesce(activity.sessions_short, 0) as integer) as sessions_short,
        cast(coalesce(activity.sessions_medium, 0) as integer) as sessions_medium,
        cast(coalesce(activity.sessions_long, 0) as integer) as sessions_long,
        cast(coalesce(activity.active_days_short, 0) as integer) as active_days_short,
        cast(coalesce(activity.active_days_medium, 0) as integer) as active_days_medium,
        cast(coalesce(activity.active_days_long, 0) as integer) as active_days_long,
        lead_activity.last_visit_date,
        {{ days_before_as_of('lead_activity.last_visit_date') }} as days_since_last_visit,
        cast(coalesce(email.email_opens_medium, 0) as integer) as email_opens_medium,
        cast(coalesce(email.email_clicks_medium, 0) as integer) as email_clicks_medium,
        lead_activity.last_unsubscribed_at,
        lead_activity.last_bounced_at is not null as has_email_bounced,
        focus.top_product_id,
        cast(coalesce(focus.top_product_view_days, 0) as integer) as top_product_view_days,
        focus.product_focus_ratio,
        coalesce(focus.top_product_view_days, 0) >= {{ var('product_focus_min_days') }} as has_product_focus,
        coalesce(activity.sessions_medium, 0) >= {{ var('frequent_unfocused_min_sessions') }}
        and coalesce(focus.product_focus_ratio, 0) <= {{ var('frequent_unfocused_max_focus_ratio') }}
        and coalesce(focus.top_product_view_days, 0) < {{ var('product_focus_min_days') }} as is_frequent_unfocused,
        dimension_scores.engagement_raw_points as raw_points,
        dimension_scores.engagement_score
    from spine
    inner join dimension_scores
        on spine.lead_id = dimension_scores.lead_id
    left join activity
        on spine.lead_id = activity.lead_id
    left join email
        on spine.lead_id = email.lead_id
    left join lead_activity
        on spine.lead_id = lead_activity.lead_id
    left join focus
        on spine.lead_id = focus.lead_id

)

select * from final
