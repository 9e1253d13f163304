-- The thresholds kept as vars (dbt_project.yml) must be in range: returns one row per bad var.
{% set checks = [
    ('session_timeout_minutes', var('session_timeout_minutes') | float > 0),
    ('future_tolerance_minutes', var('future_tolerance_minutes') | float >= 0),
    ('abandoned_cart_delay_hours', var('abandoned_cart_delay_hours') | float > 0),
    ('abandoned_cart_open_days', var('abandoned_cart_open_days') | float > 0),
    ('rfm_analysis_days', var('rfm_analysis_days') | float > 0),
    ('frequent_unfocused_min_sessions', var('frequent_unfocused_min_sessions') | float >= 1),
    ('frequent_unfocused_max_focus_ratio', 0 <= var('frequent_unfocused_max_focus_ratio') | float <= 1),
    ('product_focus_min_days', var('product_focus_min_days') | float >= 1),
    ('local_intent_days', var('local_intent_days') | float > 0),
    ('local_intent_max_km', var('local_intent_max_km') | float >= 0),
    ('category_interest_saturation', var('category_interest_saturation') | float > 0),
    ('score_reasons_top_n', var('score_reasons_top_n') | int >= 1),
    ('decay_state_anchor', var('decay_state_anchor') in ['month', 'week']),
    ('cart_inactivity_gap_hours', var('cart_inactivity_gap_hours') | float > 0),
    ('rfm_recency_basis', var('rfm_recency_basis') in ['days', 'expected_gap']),
    ('rfm_single_order_expected_gap_days', var('rfm_single_order_expected_gap_days') | float > 0),
    ('repeat_buyer_min_orders', var('repeat_buyer_min_orders') | int >= 2),
    ('short_window_days', var('short_window_days') | int >= 1),
    ('medium_window_days', var('medium_window_days') | int >= var('short_window_days') | int),
    ('long_window_days', var('long_window_days') | int >= var('medium_window_days') | int),
    ('store_path_prefix', (var('store_path_prefix') | string).startswith('/') and (var('store_path_prefix') | string).endswith('/') and "'" not in var('store_path_prefix') | string),
    ('profile_completeness_fields', var('profile_completeness_fields') | length >= 1
        and (var('profile_completeness_fields') | reject('in', ['email', 'age', 'country', 'location', 'marketing_consent']) | list | length) == 0),
    ('prediction_horizon_days', var('prediction_horizon_days') | int >= 1),
    ('training_snapshots', var('training_snapshots') | int >= 1),
    ('training_snapshot_interval_days', var('training_snapshot_interval_days') | int >= 1),
    ('training_validation_snapshots', var('training_validation_snapshots') | int >= 1),
    ('training_max_leads_per_snapshot', var('training_max_leads_per_snapshot') | int >= 1),
    ('training_min_positives', var('training_min_positives') | int >= 0),
    ('training_min_negatives', var('training_min_negatives') | int >= 0),
    ('training_min_history_days', var('training_min_history_days') | int >= 0),
    ('training_num_threads', var('training_num_threads') | int >= 1),
    ('rules_calibration_band_points', 1 <= var('rules_calibration_band_points') | int <= 100),
    ('rules_calibration_prior_leads', var('rules_calibration_prior_leads') | float >= 0),
    ('propensity_reasons_top_n', var('propensity_reasons_top_n') | int >= 1),
    ('customer_value_min_repeat_customers', var('customer_value_min_repeat_customers') | int >= 1),
    ('customer_value_prior_days', var('customer_value_prior_days') | float > 0),
    ('campaign_horizon_days', var('campaign_horizon_days') | int >= 1),
    ('campaign_interval_z', var('campaign_interval_z') | float > 0),
] %}

select
    var_name,
    is_valid
from (
    {%- for name, ok in checks %}
        select
            '{{ name }}' as var_name,
            {{ 'true' if ok else 'false' }} as is_valid
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
) as var_checks
where not is_valid
union all
select
    'category_interest_action_group' as var_name,
    false as is_valid
where not exists (
    select 1 from {{ ref('decay_half_lives') }}
    where action_group = '{{ var("category_interest_action_group") }}'
)
