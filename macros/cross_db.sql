{#- Small portable helpers. Each is a dispatcher with a default__ built from dbt's
    cross-database macros and an adapter-specific version only where the SQL differs. -#}

{#- Text -> UTC timestamp without time zone; null when it does not parse.
    Accepts ISO-8601 with or without an offset; no offset means UTC. -#}
{% macro parse_timestamp_utc(expr) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__parse_timestamp_utc(expr) -%}
    {{ dbt.safe_cast(expr, api.Column.translate_type('timestamp')) }}
{%- endmacro %}

{% macro duckdb__parse_timestamp_utc(expr) -%}
    timezone('UTC', try_cast(trim({{ expr }}) as timestamptz))
{%- endmacro %}

{% macro spark__parse_timestamp_utc(expr) -%}
    to_utc_timestamp(try_cast(trim({{ expr }}) as timestamp), 'UTC')
{%- endmacro %}

{#- Text -> decimal(18, 2); null when it is not a plain number. -#}
{% macro parse_amount(expr) -%}
    {{ return(adapter.dispatch('parse_amount', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__parse_amount(expr) -%}
    {{ dbt.safe_cast('trim(' ~ expr ~ ')', 'decimal(18, 2)') }}
{%- endmacro %}

{% macro duckdb__parse_amount(expr) -%}
    try_cast(trim({{ expr }}) as decimal(18, 2))
{%- endmacro %}

{#- Text -> integer; null when it does not parse. -#}
{% macro parse_integer(expr) -%}
    {{ return(adapter.dispatch('parse_integer', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__parse_integer(expr) -%}
    {{ dbt.safe_cast('trim(' ~ expr ~ ')', api.Column.translate_type('integer')) }}
{%- endmacro %}

{% macro duckdb__parse_integer(expr) -%}
    try_cast(trim({{ expr }}) as integer)
{%- endmacro %}

{#- Text -> double; null when it does not parse (a non-numeric coordinate must not stop
    the build: dbt's safe_cast is a plain cast on DuckDB). -#}
{% macro parse_float(expr) -%}
    {{ return(adapter.dispatch('parse_float', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__parse_float(expr) -%}
    {{ dbt.safe_cast('trim(' ~ expr ~ ')', dbt.type_float()) }}
{%- endmacro %}

{% macro duckdb__parse_float(expr) -%}
    try_cast(trim({{ expr }}) as {{ dbt.type_float() }})
{%- endmacro %}

{#- Text -> date; null when it does not parse. -#}
{% macro parse_date(expr) -%}
    {{ return(adapter.dispatch('parse_date', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__parse_date(expr) -%}
    {{ dbt.safe_cast('trim(' ~ expr ~ ')', 'date') }}
{%- endmacro %}

{% macro duckdb__parse_date(expr) -%}
    try_cast(trim({{ expr }}) as date)
{%- endmacro %}

{#- Pseudonymise an e-mail address: the clear text never leaves staging. -#}
{% macro hash_email(expr) -%}
    {{ return(adapter.dispatch('hash_email', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__hash_email(expr) -%}
    {{ dbt.hash('lower(trim(' ~ expr ~ '))') }}
{%- endmacro %}

{% macro duckdb__hash_email(expr) -%}
    sha256(lower(trim({{ expr }})))
{%- endmacro %}

{#- A direct identifier (the e-mail) as the quarantine keeps it: 'sha256:' and the hash
    staging keeps (hash_email), so a data steward can still match it; blank stays blank. -#}
{% macro masked_identifier(expr) -%}
    case
        when nullif(trim({{ expr }}), '') is null then {{ expr }}
        else {{ dbt.concat(["'sha256:'", hash_email("nullif(trim(" ~ expr ~ "), '')")]) }}
    end
{%- endmacro %}

{#- Spark: dbt.hash is md5 there; the pseudonym is SHA-256 (hex) on every engine. -#}
{% macro spark__hash_email(expr) -%}
    sha2(lower(trim({{ expr }})), 256)
{%- endmacro %}

{#- Texts of a group joined in the order of order_key (ascending). dbt.listagg keeps the
    order on DuckDB, Postgres, Snowflake ...; dbt-spark's listagg drops it (collect_list
    has no order), so Spark sorts (order_key, text) pairs and keeps the texts. -#}
{% macro ordered_string_agg(measure, delimiter_text, order_key) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'leadscore')(measure, delimiter_text, order_key)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(measure, delimiter_text, order_key) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ order_key) }}
{%- endmacro %}

{% macro spark__ordered_string_agg(measure, delimiter_text, order_key) -%}
    array_join(
        transform(
            sort_array(collect_list(named_struct('order_key', {{ order_key }}, 'text', {{ measure }}))),
            entry -> entry.text
        ),
        {{ delimiter_text }}
    )
{%- endmacro %}

{#- A fingerprint of a row's content (the listed text columns), used to tell an exact
    re-delivery from a conflicting one. Nulls and empty strings are kept apart. -#}
{% macro row_fingerprint(columns) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'leadscore')(columns)) }}
{%- endmacro %}

{% macro default__row_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce('|' || cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- DuckDB: its native 64-bit hash of the columns, several times faster than md5 of a
    concatenation (a collision between two deliveries of one key is ~1e-19 likely). -#}
{% macro duckdb__row_fingerprint(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{#- The raw row as a JSON object text for the quarantine: every contract column, in
    contract order, its text as a JSON string (null as null). Correct JSON by
    construction (RFC 8259): quotes, backslashes and every control character U+0000 to
    U+001F are escaped, so any delivered text parses back unchanged. `expressions` maps a
    column to the SQL written instead of its value (a masked direct identifier). -#}
{% macro raw_row_json(columns, relation_alias=none, expressions={}) -%}
    {{ return(adapter.dispatch('raw_row_json', 'leadscore')(columns, relation_alias, expressions)) }}
{%- endmacro %}

{#- Portable: a concatenation of escaped strings. Backslashes are written as chr(92), never
    inside a literal, because engines disagree on what a backslash in a literal means
    (standard SQL: itself; Spark, BigQuery, Snowflake: an escape). -#}
{% macro default__raw_row_json(columns, relation_alias=none, expressions={}) -%}
    {%- set prefix = (relation_alias ~ '.') if relation_alias else '' -%}
    {%- set parts = ["'{'"] -%}
    {%- for column in columns -%}
        {%- do parts.append("'" ~ ('' if loop.first else ', ') ~ '"' ~ column ~ '": ' ~ "'") -%}
        {%- set text = 'cast(' ~ expressions.get(column, prefix ~ column) ~ ' as ' ~ dbt.type_string() ~ ')' -%}
        {%- do parts.append("coalesce(" ~ dbt.concat(["'\"'", json_escaped(text), "'\"'"]) ~ ", 'null')") -%}
    {%- endfor -%}
    {%- do parts.append("'}'") -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{#- The body of a JSON string for a text expression (no surrounding quotes): backslash
    first, then the quote, then each control character (\b \t \n \f \r by name, the
    others as \u00XX). -#}
{% macro json_escaped(expr) -%}
    {%- set backslash = 'chr(92)' -%}
    {%- set ns = namespace(sql='replace(' ~ expr ~ ', ' ~ backslash ~ ', ' ~ dbt.concat([backslash, backslash]) ~ ')') -%}
    {%- set ns.sql = 'replace(' ~ ns.sql ~ ", '\"', " ~ dbt.concat([backslash, "'\"'"]) ~ ')' -%}
    {%- set named = {8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r'} -%}
    {%- for code in range(32) -%}
        {%- set escape = named[code] if code in named else 'u%04x' | format(code) -%}
        {%- set ns.sql = 'replace(' ~ ns.sql ~ ', chr(' ~ code ~ '), ' ~ dbt.concat([backslash, "'" ~ escape ~ "'"]) ~ ')' -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}

{#- DuckDB: json_object escapes per JSON itself. -#}
{% macro duckdb__raw_row_json(columns, relation_alias=none, expressions={}) -%}
    {%- set prefix = (relation_alias ~ '.') if relation_alias else '' -%}
    cast(json_object(
        {%- for column in columns %}
        '{{ column }}', cast({{ expressions.get(column, prefix ~ column) }} as {{ dbt.type_string() }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{#- Spark: to_json of a struct, keeping null fields (Spark drops them by default). -#}
{% macro spark__raw_row_json(columns, relation_alias=none, expressions={}) -%}
    {%- set prefix = (relation_alias ~ '.') if relation_alias else '' -%}
    to_json(named_struct(
        {%- for column in columns %}
        '{{ column }}', cast({{ expressions.get(column, prefix ~ column) }} as string){{ ',' if not loop.last }}
        {%- endfor %}
    ), map('ignoreNullFields', 'false'))
{%- endmacro %}

{#- Great-circle distance in kilometres (haversine), from plain trigonometry. -#}
{% macro haversine_km(lat1, lon1, lat2, lon2) -%}
    (2 * 6371.0 * asin(sqrt(
        power(sin(({{ lat2 }} - {{ lat1 }}) * 0.017453292519943295 / 2), 2)
        + cos({{ lat1 }} * 0.017453292519943295) * cos({{ lat2 }} * 0.017453292519943295)
        * power(sin(({{ lon2 }} - {{ lon1 }}) * 0.017453292519943295 / 2), 2)
    )))
{%- endmacro %}

{#- Exponential time decay: 0.5 ^ (age_days / half_life_days), in double precision
    (dbt's type_float() is a 4-byte float on DuckDB and Spark: its exponent made the
    carried decay state and a direct sum differ in the 8th digit). -#}
{% macro decay_factor(age_days, half_life_days) -%}
    power(0.5, cast({{ age_days }} as double) / nullif(cast({{ half_life_days }} as double), 0))
{%- endmacro %}

{#- The path of a URL: scheme, host, query string and fragment removed ('' for the root). -#}
{% macro url_path(expr) -%}
    {{ return(adapter.dispatch('url_path', 'leadscore')(expr)) }}
{%- endmacro %}

{% macro default__url_path(expr) -%}
    lower(regexp_replace(regexp_replace(trim({{ expr }}), '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*', ''), '[?#].*$', ''))
{%- endmacro %}

{#- A readable surrogate key: '<key><separator><version>' ('initial' when version is null). -#}
{% macro version_id(key_expr, version_expr, separator='@') -%}
    {{ dbt.concat([key_expr, "'" ~ separator ~ "'", "coalesce(cast(" ~ version_expr ~ " as " ~ dbt.type_string() ~ "), 'initial')"]) }}
{%- endmacro %}

{#- Whole calendar years from a date to a later one (an age): the difference of the years,
    minus one while the anniversary (month and day) has not been reached. Someone is 18
    on their 18th birthday; a 29 February birthday is reached on 1 March in common years
    (28 February < 29 February). Plain extract(), so the same on DuckDB, Spark, Trino,
    Snowflake and BigQuery; not datediff('year'), which counts calendar boundaries. -#}
{% macro age_in_years(from_date, to_date) -%}
    {{ return(adapter.dispatch('age_in_years', 'leadscore')(from_date, to_date)) }}
{%- endmacro %}

{% macro default__age_in_years(from_date, to_date) -%}
    (
        extract(year from {{ to_date }}) - extract(year from {{ from_date }})
        - case
            when
                extract(month from {{ to_date }}) * 100 + extract(day from {{ to_date }})
                < extract(month from {{ from_date }}) * 100 + extract(day from {{ from_date }})
                then 1
            else 0
        end
    )
{%- endmacro %}

{#- A stable pseudo-random number in [0, 1) from a text: the first 8 hex digits of its
    md5 (dbt.hash) read as a 32-bit number, divided by 2^32. Built from substr and
    position only, so it is the same on every engine and in Python:
    int(hashlib.md5(text.encode()).hexdigest()[:8], 16) / 2**32 (campaign control groups). -#}
{% macro stable_unit_interval(expr) -%}
    {{ return(adapter.dispatch('stable_unit_interval', 'leadscore')(expr)) }}
{%- endmacro %}

{#- Spark: conv() reads the hex digits (dbt-spark's position() gave other digits here). -#}
{% macro spark__stable_unit_interval(expr) -%}
    (cast(conv(substr({{ dbt.hash(expr) }}, 1, 8), 16, 10) as double) / 4294967296.0)
{%- endmacro %}

{% macro default__stable_unit_interval(expr) -%}
    {%- set digest = dbt.hash(expr) -%}
    (
        {%- for i in range(8) %}
        ({{ dbt.position("substr(" ~ digest ~ ", " ~ (i + 1) ~ ", 1)", "'0123456789abcdef'") }} - 1) * {{ 16 ** (7 - i) }}{{ ' +' if not loop.last }}
        {%- endfor %}
    ) / 4294967296.0
{%- endmacro %}
