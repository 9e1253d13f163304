{#- Carried state of the as_of layer (models/intermediate/state/).

    Decay is separable: 0.5^((A - d)/h) = 0.5^((A - R)/h) * 0.5^((R - d)/h). The state
    models keep, per lead (and rule, product, category or store), what the days before an
    anchor date R hold: counts, first/last dates and sums decayed to R. A score at as_of A
    adds the days from R on (at most one anchor period plus the as_of day) to the state
    rescaled by 0.5^((A - R)/h). R is a function of as_of (var decay_state_anchor: the
    first day of as_of's month or ISO week), never an epoch (0.5^(-d/h) over epoch days
    overflows a double).

    A lead-day is never split between state and recent days: the state holds every fact row
    of a day before R whose identity link (for stitched anonymous history) was made before
    the as_of the state was built at; the rest of the as_of layer reads the days from R on.

    How a run brings the state to its as_of (decay_state_plan):
      full  - first run, --full-refresh, a changed input of the state (checksum of the rule
              seeds and vars it prices with), or an as_of earlier than the state's own
              (a backtest): every lead from the facts;
      same  - the anchor did not move: the carried rows, except the leads whose past changed
              (new facts of a day before R, a moved identity link, a link made since the
              state's as_of), which are recomputed from their facts;
      roll  - the anchor moved forward: the carried rows rescaled to the new anchor plus the
              facts of the days between the anchors, the changed leads recomputed.
    Every run writes the whole state (one row per lead and key: it grows with leads, not
    with history) through state_strategy(); the work grows with what is new. -#}

{#- The anchor date R of as_of, as 'YYYY-MM-DD'. -#}
{% macro decay_anchor_string() -%}
    {%- set period = var('decay_state_anchor') -%}
    {%- set day = modules.datetime.datetime.strptime(as_of_string()[:10], '%Y-%m-%d') -%}
    {%- if period == 'month' -%}
        {{- return(day.strftime('%Y-%m-01')) -}}
    {%- elif period == 'week' -%}
        {{- return((day - modules.datetime.timedelta(days=day.weekday())).strftime('%Y-%m-%d')) -}}
    {%- else -%}
        {{ exceptions.raise_compiler_error("var decay_state_anchor must be 'month' or 'week', got: " ~ period) }}
    {%- endif -%}
{%- endmacro %}

{% macro decay_anchor_date() -%}
    cast('{{ decay_anchor_string() }}' as date)
{%- endmacro %}

{#- 0.5 ^ (whole days from `from_date` to `to_date` / half-life); 1 without a half-life. -#}
{% macro decay_between(from_date, to_date, half_life_days) -%}
    coalesce({{ decay_factor(dbt.datediff(from_date, to_date, 'day'), half_life_days) }}, 1.0)
{%- endmacro %}

{#- What the state is priced with: a change makes the next run rebuild it (plan 'full'). -#}
{% macro decay_state_inputs_checksum(seeds=[], var_names=[]) -%}
    {%- set parts = [var('decay_state_anchor'), 'v1'] -%}
    {%- if execute -%}
        {#- (a unit test's graph has no nodes) -#}
        {%- set nodes = graph.get('nodes', {}) -%}
        {%- for seed in seeds -%}
            {%- set node = nodes.get('seed.' ~ project_name ~ '.' ~ seed) -%}
            {%- do parts.append(seed ~ '=' ~ (node.checksum.checksum if node else 'missing')) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in var_names -%}
        {%- do parts.append(name ~ '=' ~ var(name)) -%}
    {%- endfor -%}
    {{- return(local_md5(parts | join('|'))) -}}
{%- endmacro %}

{#- How this run brings the state of the calling model to as_of: a dict with mode
    ('full' | 'same' | 'roll'), previous_anchor, previous_as_of and watermark (the newest
    batch of int_lead_daily_signals the state had seen). -#}
{% macro decay_state_plan(inputs_checksum) -%}
    {%- set plan = {'mode': 'full', 'previous_anchor': none, 'previous_as_of': none, 'watermark': 0} -%}
    {%- if execute and is_incremental() -%}
        {%- set result = run_query(
            'select max(anchor_date), max(state_as_of), max(inputs_checksum), min(inputs_checksum), '
            ~ 'max(_processed_batch), count(*) from ' ~ this) -%}
        {%- set row = result.rows[0] -%}
        {%- set previous_anchor = row[0] | string -%}
        {%- set previous_as_of = row[1] | string -%}
        {%- set anchor = decay_anchor_string() -%}
        {%- if row[5] == 0 or row[2] != inputs_checksum or row[3] != inputs_checksum -%}
            {%- do plan.update({'mode': 'full'}) -%}
        {%- elif previous_as_of[:19] > as_of_string() or previous_anchor[:10] > anchor -%}
            {%- do plan.update({'mode': 'full'}) -%}
        {%- elif previous_anchor[:10] == anchor -%}
            {%- do plan.update({'mode': 'same'}) -%}
        {%- else -%}
            {%- do plan.update({'mode': 'roll'}) -%}
        {%- endif -%}
        {%- do plan.update({'previous_anchor': previous_anchor[:10], 'previous_as_of': previous_as_of[:19],
                            'watermark': row[4] or 0}) -%}
    {%- endif -%}
    {{- return(plan) -}}
{%- endmacro %}

{#- A fact row (alias `facts`, from int_lead_daily_signals) belongs to the state at anchor
    `anchor` built at as_of `state_as_of` (SQL expressions). -#}
{% macro in_decay_state(anchor, state_as_of, facts='facts') -%}
    ({{ facts }}.activity_date < {{ anchor }}
    and ({{ facts }}.identity_linked_at is null or {{ facts }}.identity_linked_at < {{ state_as_of }}))
{%- endmacro %}

{#- The leads whose days before the anchor changed since the state was built (plan
    'same' or 'roll'): new or re-processed facts of a day before the anchor, lead-days
    emptied by a moved link, links made between the state's as_of and this one. -#}
{% macro decay_state_changed_leads(plan) -%}
    select facts.lead_id
    from {{ ref('int_lead_daily_signals') }} as facts
    where
        facts._processed_batch > {{ plan.watermark }}
        and facts.activity_date < {{ decay_anchor_date() }}
    union
    select relinked.lead_id
    from ({{ relinked_lead_days() }}) as relinked
    where relinked.activity_date < {{ decay_anchor_date() }}
    union
    select facts.lead_id
    from {{ ref('int_lead_daily_signals') }} as facts
    where
        facts.activity_date < {{ decay_anchor_date() }}
        and facts.identity_linked_at >= cast('{{ plan.previous_as_of }}' as {{ dbt.type_timestamp() }})
        and facts.identity_linked_at < {{ as_of() }}
{%- endmacro %}

{#- The fact rows this run reads into the state (alias `facts`): every row of the state
    on a full run; else the rows of the changed leads (`changed` is a relation with
    lead_id) and, when the anchor moved, the rows between the two anchors. -#}
{% macro decay_state_facts_to_read(plan, changed='changed_leads') -%}
    {{ in_decay_state(decay_anchor_date(), as_of()) }}
    {%- if plan.mode != 'full' %}
        and (
            facts.lead_id in (select changed.lead_id from {{ changed }} as changed)
            or not {{ in_decay_state("cast('" ~ plan.previous_anchor ~ "' as date)",
                "cast('" ~ plan.previous_as_of ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        )
    {%- endif %}
{%- endmacro %}

{#- The carried rows this run keeps (alias `carried`, from this model): none on a full
    run, else those of the leads whose past did not change. -#}
{% macro decay_state_rows_to_carry(plan, changed='changed_leads') -%}
    {%- if plan.mode == 'full' -%}
        1 = 0
    {%- else -%}
        carried.lead_id not in (select changed.lead_id from {{ changed }} as changed)
    {%- endif -%}
{%- endmacro %}

{#- The state's bookkeeping columns, written on every row. -#}
{% macro decay_state_columns(inputs_checksum) -%}
    {{ decay_anchor_date() }} as anchor_date,
    {{ as_of() }} as state_as_of,
    '{{ inputs_checksum }}' as inputs_checksum,
    coalesce({{ newest_processed_batch(ref('int_lead_daily_signals')) }}, 0) as _processed_batch,
    1 as _state_partition
{%- endmacro %}

{#- How a state model is written, per adapter: the whole table is replaced on every run
    (its rows are one per lead and key). DuckDB: delete+insert on the constant
    _state_partition; Spark Parquet: insert_overwrite of that single partition. -#}
{% macro state_strategy() -%}
    {{ return(adapter.dispatch('state_strategy', 'leadscore')()) }}
{%- endmacro %}

{% macro default__state_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__state_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro state_partition_by() -%}
    {{ return(adapter.dispatch('state_partition_by', 'leadscore')()) }}
{%- endmacro %}

{% macro default__state_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__state_partition_by() -%}
    {{ return('_state_partition') }}
{%- endmacro %}

{#- The first day int_lead_signals_as_of holds: the earlier of the decay anchor and the
    start of the longest window of the descriptive counts. -#}
{% macro recent_signals_start_date() -%}
    {%- set window_days = [var('short_window_days'), var('medium_window_days'), var('long_window_days'),
        var('local_intent_days')] | max -%}
    least({{ decay_anchor_date() }}, {{ as_of_date_minus(window_days) }})
{%- endmacro %}

{#- round(x, digits) of a decayed sum. The carried state and a direct sum reach the same
    value along two floating-point paths, equal to about 1e-15 relative; decay factors at
    whole multiples of a half-life make exact ties at the last digit (0.5^7 = 0.0078125)
    that such a difference would push either way. Snapping to `digits + 3` decimals first
    makes both paths round alike (ties still round half away from zero). -#}
{% macro round_decayed(expr, digits=6) -%}
    round(round({{ expr }}, {{ digits + 3 }}), {{ digits }})
{%- endmacro %}

{#- In a state model's final select: `fn(column)` when the run merges carried rows with new
    facts of the same keys (plan 'roll'); else the carried rows and the recomputed leads are
    disjoint and pass through as they are (no aggregation of the whole state). -#}
{% macro merge_state(fn, column, plan) -%}
    {%- if plan.mode == 'roll' -%}{{ fn }}({{ column }}){%- else -%}{{ column }}{%- endif -%}
{%- endmacro %}

{#- A state model's pre-hook: a run that rebuilds the state (plan 'full') on an existing
    table empties it first. The write replaces rows by the constant _state_partition, which
    removes nothing when the rebuilt state is empty (an as_of before the first day of the
    data, e.g. a training snapshot): the rows of the later as_of would stay. A full run
    does not read the table, so emptying it first is safe (TRUNCATE: DuckDB and Spark). -#}
{% macro truncate_state_on_rebuild(seeds=[], var_names=[]) -%}
    {%- if execute and is_incremental() -%}
        {%- set plan = decay_state_plan(decay_state_inputs_checksum(seeds, var_names)) -%}
        {%- if plan.mode == 'full' -%}
            truncate table {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
