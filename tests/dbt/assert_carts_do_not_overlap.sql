-- A lead's carts follow each other in time: every cart starts after the previous one's
-- last add. Returns the carts that overlap their predecessor (a numbering that split or
-- merged baskets wrongly).
with

carts as (

    select
        lead_id,
        cart_number,
        first_add_at,
        lag(last_add_at) over (partition by lead_id order by cart_number) as previous_last_add_at
    from {{ ref('int_lead_carts') }}

)

select *
from carts
where first_add_at <= previous_last_add_at
