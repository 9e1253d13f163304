-- One row per lead per scoring as_of, appended by every run and never rewritten: a
-- re-run at the same as_of first deletes that as_of's rows, all of them (the pre-hook),
-- so a lead that left the spine since (a landing file withdrawn and reloaded) leaves too.
-- (On Spark, whose Parquet tables have no DELETE, the as_of partition is overwritten
-- instead: macros/incremental.sql, history_strategy.)
-- full_refresh is off for this model: `leadscore run --full-refresh` keeps the history.
-- The delete runs before the model's transaction: DuckDB refuses a transaction that both
-- deletes from a table and adds columns to it (on_schema_change, when a release adds a
-- column); a run that fails after it leaves that as_of's rows out until the next run.
{{ config(
    materialized='incremental',
    incremental_strategy=history_strategy(),
    partition_by=history_partition_by(),
    full_refresh=false,
    on_schema_change='append_new_columns',
    pre_hook=before_begin("{{ delete_history_of_as_of() }}"),
) }}

with

current_scores as (

    select * from {{ ref('int_lead_scores_current') }}

),

predictions as (

    select * from {{ ref('int_lead_predictions') }}

),

final as (

    select
        current_scores.lead_id,
        current_scores.as_of,
        current_scores.lead_score,
        current_scores.demographic_score,
        current_scores.engagement_score,
        current_scores.page_intent_score,
        current_scores.purchase_score,
        current_scores.fit_grade,
        current_scores.engagement_tier,
        current_scores.score_cell,
        current_scores.lifecycle_stage,
        current_scores.recommended_action,
        predictions.purchase_probability,
        predictions.propensity_method
    from current_scores
    left join predictions
        on current_scores.lead_id = predictions.lead_id

)

select * from final
