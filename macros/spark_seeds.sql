{#- Seeds on Spark. dbt-spark 1.11's session mode binds seed values by formatting them
    into the SQL with Python's `%` (dbt/adapters/spark/session.py, Cursor.execute), so an
    empty cell arrives as the text `None` and a value with a quote breaks the statement.
    This override writes each value as a SQL literal instead: null for an empty cell, the
    text between single quotes with backslash and quote escaped (Spark's string literals
    treat a backslash as an escape), cast to the seed's column type. Remove it when
    dbt-spark's session cursor quotes its bindings. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_types = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for column_name in agate_table.column_names -%}
        {%- do types.append(column_types.get(column_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set first_statement = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set values_sql = [] -%}
        {%- for row in chunk -%}
            {%- set literals = [] -%}
            {%- for value in row -%}
                {%- do literals.append('cast(' ~ spark_seed_literal(value) ~ ' as ' ~ types[loop.index0] ~ ')') -%}
            {%- endfor -%}
            {%- do values_sql.append('(' ~ literals | join(', ') ~ ')') -%}
        {%- endfor -%}
        {%- set sql = 'insert into ' ~ this.render() ~ ' values\n' ~ values_sql | join(',\n') -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if not first_statement -%}
            {%- do first_statement.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(first_statement[0] if first_statement else '') }}
{% endmacro %}

{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
