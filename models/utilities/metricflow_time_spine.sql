-- MetricFlow's daily time spine (README "Semantic layer (MetricFlow)"): one row per day.
-- MetricFlow joins metrics to it for metric_time, offsets and cumulative windows; it is
-- not a scoring rule, so its range is fixed here (2020-01-01 to 2040-12-31) rather than a
-- var: a wider range costs 365 rows a year. Built with dbt's portable date_spine.
with

days as (

    {{ dbt.date_spine(
        datepart="day",
        start_date="cast('2020-01-01' as date)",
        end_date="cast('2041-01-01' as date)"
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
