-- One row per lead per scoring as_of, appended by every run and never rewritten: a
-- re-run at the same as_of first deletes that as_of's rows, all of them (the pre-hook),
-- so a lead that left the spine since (a landing file withdrawn and reloaded) leaves too.
-- full_refresh is off for this model: `leadscore run --full-refresh` keeps the history.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where as_of = {{ as_of() }}{% endif %}",
) }}

with

current_scores as (

    select * from {{ ref('int_lead_scores_current') }}

),

final as (

    select
        lead_id,
        as_of,
        lead_score,
        demographic_score,
        engagement_score,
        page_intent_score,
        purchase_score,
        fit_grade,
        engagement_tier,
        score_cell,
        lifecycle_stage,
        recommended_action
    from current_scores

)

select * from final
