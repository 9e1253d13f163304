-- The predictive score of every known lead at as_of, as the refresh's predictive step
-- wrote it (source predictive.lead_predictions): rows of another as_of never count, and a
-- lead without a prediction (no model yet, a dbt build without that step) says
-- `unavailable` instead of a number.
with

spine as (

    select lead_id from {{ ref('int_lead_spine') }}

),

predictions as (

    select * from {{ source('predictive', 'lead_predictions') }}
    where as_of = {{ as_of() }}

),

final as (

    select
        spine.lead_id,
        cast(predictions.purchase_probability as double) as purchase_probability,
        cast(predictions.propensity_score as integer) as propensity_score,
        coalesce(predictions.propensity_method, 'unavailable') as propensity_method,
        predictions.propensity_reasons,
        predictions.model_version,
        cast(predictions.expected_orders as double) as expected_orders,
        cast(predictions.expected_value_eur as double) as expected_value_eur
    from spine
    left join predictions
        on spine.lead_id = predictions.lead_id

)

select * from final
