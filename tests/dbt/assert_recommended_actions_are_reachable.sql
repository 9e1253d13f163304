-- Every row of rules/recommended_actions must be reachable by a lead it is written for:
-- a row is hidden when an earlier row (lower action_priority) matches every lead it
-- matches: the same or any stage, the same or any condition, and no more permission
-- (no consent where the later row needs none; not e-mail where the later row is not).
-- Returns the hidden rows with the row that hides them.
with

actions as (

    select * from {{ ref('recommended_actions') }}

)

select
    later.action_priority,
    later.recommended_action,
    earlier.action_priority as hidden_by_priority,
    earlier.recommended_action as hidden_by_action
from actions as later
inner join actions as earlier
    on
        later.action_priority > earlier.action_priority
        and earlier.lifecycle_stage in ('any', later.lifecycle_stage)
        and earlier.lead_condition in ('any', later.lead_condition)
        and (not earlier.requires_consent or later.requires_consent)
        and (earlier.channel <> 'email' or later.channel = 'email')
