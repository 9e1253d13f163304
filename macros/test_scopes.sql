{#- Data tests that check only the rows written since they last passed.

    A test whose `where` config holds the mark __verified_batch__, e.g.
    `where: "_processed_batch > __verified_batch__"`, reads, on a scheduled refresh, only
    the rows of the batches loaded since it last passed on this warehouse; anywhere else
    (`make test`, `dbt build` by hand, `--full-refresh`, a first run, the Spark target, a
    test or a model it reads that changed since) it reads every row. The refresh writes
    the batch each such test last passed at into landing._test_scopes before its dbt build
    and empties it afterwards (orchestration/refresh_selection.py).

    Only tests whose rows cannot change once written are marked: the uniqueness of an
    incremental table's upsert key (a run replaces every row of a key it writes, so a
    duplicate always involves a row of this run), per-row checks of its rows, and
    "every landing row is accounted for" on the landing batch. So a daily refresh's tests
    cost what is new instead of re-reading the whole history. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__verified_batch__' in where -%}
        {%- set since = verified_batch_of_this_test() -%}
        {%- set where = '' if since is none else where | replace('__verified_batch__', since) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The batch this test last passed at (a string), or none: check every row. -#}
{% macro verified_batch_of_this_test() -%}
    {%- if not execute or target.type != 'duckdb' -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set scopes = adapter.get_relation(database=target.database, schema='landing', identifier='_test_scopes') -%}
    {%- if scopes is none -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set found = run_query(
        "select verified_batch from " ~ scopes ~ " where unique_id = '" ~ model.unique_id ~ "'") -%}
    {%- if found.rows | length == 0 or found.rows[0][0] is none -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(found.rows[0][0] | int | string) -%}
{%- endmacro %}
