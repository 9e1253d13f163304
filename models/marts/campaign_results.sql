-- What each campaign did, per week of sending (send_week, Monday) and over all its closed
-- weeks (is_overall, send_week null): the leads sent (treated) against the leads held out
-- (control: is_control in landing campaign_sends), the share of each that placed an order
-- counting as a purchase within campaign_horizon_days after sent_at, the absolute uplift
-- (treated rate - control rate) with its confidence interval (+/- campaign_interval_z
-- standard errors, normal approximation, macros/campaigns.sql), and revenue per lead.
-- Point in time: only sends and orders (as known) before as_of; a week whose horizon has not
-- closed before as_of (is_horizon_closed false) still counts conversions so far and is left
-- out of the overall row. A lead sent a campaign twice in a week counts once (its first send).
with

sends as (

    select
        campaign_id,
        lead_id,
        is_control,
        cast({{ dbt.date_trunc('week', 'sent_at') }} as date) as send_week,
        min(sent_at) as sent_at
    from {{ ref('stg_landing__campaign_sends') }}
    where sent_at < {{ as_of() }}
    group by 1, 2, 3, 4

),

orders as (

    select
        lead_id,
        ordered_at,
        amount_eur
    from {{ ref('int_orders_as_of') }}
    where counts_as_purchase

),

outcomes as (

    select
        sends.campaign_id,
        sends.send_week,
        sends.lead_id,
        sends.is_control,
        count(orders.lead_id) > 0 as has_converted,
        coalesce(sum(orders.amount_eur), 0) as revenue_eur,
        max(
            case
                when {{ dbt.dateadd('day', var('campaign_horizon_days'), 'sends.sent_at') }} <= {{ as_of() }}
                    then 1
                else 0
            end
        ) as is_closed
    from sends
    left join orders
        on
            sends.lead_id = orders.lead_id
            and sends.sent_at < orders.ordered_at
            and {{ dbt.dateadd('day', var('campaign_horizon_days'), 'sends.sent_at') }} >= orders.ordered_at
    group by 1, 2, 3, 4

),

weekly as (

    select
        campaign_id,
        send_week,
        false as is_overall,
        min(is_closed) = 1 as is_horizon_closed,
        sum(case when not is_control then 1 else 0 end) as treated_leads,
        sum(case when is_control then 1 else 0 end) as control_leads,
        sum(case when not is_control and has_converted then 1 else 0 end) as treated_conversions,
        sum(case when is_control and has_converted then 1 else 0 end) as control_conversions,
        sum(case when not is_control then revenue_eur else 0 end) as treated_revenue_eur,
        sum(case when is_control then revenue_eur else 0 end) as control_revenue_eur
    from outcomes
    group by 1, 2

),

overall as (

    select
        campaign_id,
        cast(null as date) as send_week,
        true as is_overall,
        true as is_horizon_closed,
        sum(treated_leads) as treated_leads,
        sum(control_leads) as control_leads,
        sum(treated_conversions) as treated_conversions,
        sum(control_conversions) as control_conversions,
        sum(treated_revenue_eur) as treated_revenue_eur,
        sum(control_revenue_eur) as control_revenue_eur
    from weekly
    where is_horizon_closed
    group by 1

),

unioned as (

    select * from weekly
    union all
    select * from overall

),

measured as (

    select
        *,
        {{ proportion('treated_conversions', 'treated_leads') }} as treated_conversion_rate,
        {{ proportion('control_conversions', 'control_leads') }} as control_conversion_rate,
        {{ uplift_standard_error('treated_conversions', 'treated_leads', 'control_conversions', 'control_leads') }}
            as uplift_standard_error
    from unioned

),

final as (

    select
        campaign_id,
        send_week,
        is_overall,
        is_horizon_closed,
        cast(treated_leads as bigint) as treated_leads,
        cast(control_leads as bigint) as control_leads,
        cast(treated_conversions as bigint) as treated_conversions,
        cast(control_conversions as bigint) as control_conversions,
        cast(treated_conversion_rate as double) as treated_conversion_rate,
        cast(control_conversion_rate as double) as control_conversion_rate,
        cast(treated_conversion_rate - control_conversion_rate as double) as uplift,
        cast(uplift_standard_error as double) as uplift_standard_error,
        cast(
            treated_conversion_rate - control_conversion_rate
            - {{ var('campaign_interval_z') }} * uplift_standard_error as double
        ) as uplift_ci_low,
        cast(
            treated_conversion_rate - control_conversion_rate
            + {{ var('campaign_interval_z') }} * uplift_standard_error as double
        ) as uplift_ci_high,
        cast(treated_revenue_eur as double) / nullif(treated_leads, 0) as treated_revenue_per_lead_eur,
        cast(control_revenue_eur as double) / nullif(control_leads, 0) as control_revenue_per_lead_eur,
        cast({{ var('campaign_horizon_days') }} as integer) as horizon_days,
        {{ as_of() }} as as_of
    from measured

)

select * from final
