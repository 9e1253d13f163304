-- Orders without a currency are in EUR: the rate table must hold the euro (its rows are
-- checked for a rate of exactly 1 in seeds/reference/_reference__seeds.yml).
select 'EUR' as missing_currency
where not exists (
    select 1 from {{ ref('currency_rates') }}
    where currency = 'EUR'
)
