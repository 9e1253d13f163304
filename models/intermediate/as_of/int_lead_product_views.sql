-- Product views per lead and product at as_of: the carried state of the days before the
-- decay anchor (int_lead_product_state) and the recent days (int_lead_signals_as_of).
--   view_days, n_views, first_view_date:  all views before as_of
--   repeat_view_days:                     days with views after the first view day
--   decayed_repeat_view_days:             those days decayed to as_of with the half-life
--                                         of the action group of the `focus` rules
--   product_rank:                         1 = the most viewed product (most view days,
--                                         then most views, then product_id)
with

state as (

    select * from {{ ref('int_lead_product_state') }}

),

recent_days as (

    select
        lead_id,
        signal_key as product_id,
        activity_date,
        n_events as n_views
    from {{ ref('int_lead_signals_as_of') }}
    where
        signal_type = 'product'
        and activity_date >= {{ decay_anchor_date() }}

),

focus_half_life as (

    {{ focus_half_life() }}

),

first_views as (

    select
        lead_id,
        product_id,
        min(first_view_date) as first_view_date
    from (
        select
            lead_id,
            product_id,
            first_view_date
        from state
        union all
        select
            lead_id,
            product_id,
            activity_date as first_view_date
        from recent_days
    ) as candidates
    group by lead_id, product_id

),

recent as (

    select
        recent_days.lead_id,
        recent_days.product_id,
        count(*) as view_days,
        sum(recent_days.n_views) as n_views,
        min(recent_days.activity_date) as first_view_date,
        sum(case when recent_days.activity_date > first_views.first_view_date then 1 else 0 end)
            as repeat_view_days,
        sum(
            case
                when recent_days.activity_date > first_views.first_view_date
                    then {{ decay_between('recent_days.activity_date', as_of_date(), 'focus_half_life.half_life_days') }}
                else 0
            end
        ) as decayed_repeat_view_days
    from recent_days
    inner join first_views
        on
            recent_days.lead_id = first_views.lead_id
            and recent_days.product_id = first_views.product_id
    cross join focus_half_life
    group by recent_days.lead_id, recent_days.product_id

),

carried as (

    select
        state.lead_id,
        state.product_id,
        state.view_days,
        state.n_views,
        state.first_view_date,
        state.repeat_view_days,
        state.decayed_repeat_view_days
        * {{ decay_between('state.anchor_date', as_of_date(), 'focus_half_life.half_life_days') }} as decayed_repeat_view_days
    from state
    cross join focus_half_life

),

per_product as (

    select
        lead_id,
        product_id,
        sum(view_days) as view_days,
        sum(n_views) as n_views,
        min(first_view_date) as first_view_date,
        sum(repeat_view_days) as repeat_view_days,
        sum(decayed_repeat_view_days) as decayed_repeat_view_days
    from (
        select * from carried
        union all
        select * from recent
    ) as combined
    group by lead_id, product_id

),

final as (

    select
        lead_id,
        product_id,
        cast(view_days as integer) as view_days,
        cast(n_views as integer) as n_views,
        first_view_date,
        cast(repeat_view_days as integer) as repeat_view_days,
        decayed_repeat_view_days,
        cast(row_number() over (
            partition by lead_id
            order by view_days desc, n_views desc, product_id asc
        ) as integer) as product_rank
    from per_product

)

select * from final
