-- Page intent at as_of, one row per known lead: what the lead looks at. Page types
-- ranked by intent (product > category > home; careers and support count against),
-- searches priced by their terms, the store-hours page as local intent, and the
-- categories of interest. Points from rules/scoring_rules.
with

spine as (

    select * from {{ ref('int_lead_spine') }}

),

-- the int_lead_signals_as_of view is read once per use, each with its own filter (a CTE
-- read twice is materialised whole, and no filter reaches the view's scan)
page_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where
        (signal_type = 'page_type' or (signal_type = 'event_type' and signal_key = 'search'))
        and activity_date >= {{ as_of_date_minus([
            var('medium_window_days'), var('local_intent_days'), var('long_window_days')] | max) }}

),

store_signal_days as (

    select * from {{ ref('int_lead_signals_as_of') }}
    where signal_type = 'store' and activity_date >= {{ decay_anchor_date() }}

),

category_interest as (

    select * from {{ ref('int_lead_category_interest') }}

),

dimension_scores as (

    select * from {{ ref('int_lead_dimension_scores') }}

),

negative_page_types as (

    -- the page types that rules/scoring_rules count against (careers, support by default)
    select key_pattern
    from {{ ref('scoring_rules') }}
    where signal_type = 'page_type' and points_per_unit < 0

),

pages as (

    select
        lead_id,
        {{ sum_last_days("signal_type = 'page_type' and signal_key = 'product'", 'n_events', var('medium_window_days')) }} as product_page_views_medium,
        {{ sum_last_days("signal_type = 'page_type' and signal_key = 'category'", 'n_events', var('medium_window_days')) }} as category_page_views_medium,
        {{ sum_last_days("signal_type = 'event_type' and signal_key = 'search'", 'n_events', var('medium_window_days')) }} as searches_medium,
        {{ sum_last_days(
            "signal_type = 'page_type' and signal_key = 'store_hours'", 'n_events', var('local_intent_days')
        ) }} as store_hours_views_recent,
        {{ sum_last_days(
            "signal_type = 'page_type' and signal_key in (select negative.key_pattern from negative_page_types as negative)",
            'n_events', var('long_window_days')
        ) }} as negative_page_views_long
    from page_signal_days
    group by lead_id

),

open_stores as (

    select store_id from {{ ref('stores') }}
    where {{ store_is_open('opened_on') }}

),

store_views as (

    -- views of each store's pages before as_of: the carried state of the days before the
    -- decay anchor and the recent days
    select
        lead_id,
        store_id,
        sum(n_views) as n_views,
        max(last_viewed_at) as last_viewed_at
    from (
        select
            lead_id,
            store_id,
            n_views,
            last_viewed_at
        from {{ ref('int_lead_store_state') }}
        union all
        select
            lead_id,
            signal_key as store_id,
            n_events as n_views,
            last_at as last_viewed_at
        from store_signal_days
    ) as combined
    group by lead_id, store_id

),

stores_viewed as (

    -- the most viewed store page among the stores open at as_of (a page of a store not
    -- yet open, or unknown, names no local store)
    select
        store_views.lead_id,
        store_views.store_id,
        row_number() over (
            partition by store_views.lead_id
            order by store_views.n_views desc, store_views.last_viewed_at desc, store_views.store_id asc
        ) as store_rank
    from store_views
    inner join open_stores
        on store_views.store_id = open_stores.store_id

),

top_category as (

    select
        lead_id,
        product_category,
        interest_share
    from category_interest
    where interest_rank = 1

),

final as (

    select
        spine.lead_id,
        {{ as_of() }} as as_of,
        cast(coalesce(pages.product_page_views_medium, 0) as integer) as product_page_views_medium,
        cast(coalesce(pages.category_page_views_medium, 0) as integer) as category_page_views_medium,
        cast(coalesce(pages.searches_medium, 0) as integer) as searches_medium,
        cast(coalesce(pages.store_hours_views_recent, 0) as integer) as store_hours_views_recent,
        cast(coalesce(pages.negative_page_views_long, 0) as integer) as negative_page_views_long,
        stores_viewed.store_id as viewed_store_id,
        top_category.product_category as top_category,
        top_category.interest_share as top_category_share,
        dimension_scores.page_intent_raw_points as raw_points,
        dimension_scores.page_intent_score
    from spine
    inner join dimension_scores
        on spine.lead_id = dimension_scores.lead_id
    left join pages
        on spine.lead_id = pages.lead_id
    left join stores_viewed
        on
            spine.lead_id = stores_viewed.lead_id
            and stores_viewed.store_rank = 1
    left join top_category
        on spine.lead_id = top_category.lead_id

)

select * from final
