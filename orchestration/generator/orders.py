"""Orders: who buys on a given day (latent propensity x activity), and order rows.

Order draws use their own random stream per day and depend only on the static
world, so any day's orders (and therefore refund updates, purchase sessions and
the truth window) can be recomputed cheaply in isolation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import config as C
from .formatting import format_timestamps, hex_ids, json_cents, json_int, json_string, take
from .world import NO_DAY, TAG_ORDER, World, categorical, day_rng

STREAM_ORDERS = 1
# past orders observed in the window -> multiplier of the future purchase hazard
HABIT = np.array([1.0, 1.7, 3.2, 4.0, 4.6, 5.0])
FUTURE_BASELINE_HAZARD = 0.00008
UNSUBSCRIBED_FUTURE_FACTOR = 0.35
REFUND_SHARE = 0.06
ST_COMPLETED, ST_PENDING, ST_ABSENT, ST_NULL, ST_EMPTY = range(5)
STATUS_WEIGHTS = np.array([0.92, 0.02, 0.03, 0.02, 0.01])
_STATUS_LITERALS = pa.array(['"completed"', '"pending"', None, "null", '""'])
_REFUND_LITERALS = pa.array(['"cancelled"', '"refunded"'])


@dataclass
class DayOrders:
    """All orders placed on one day (arrays of equal length)."""

    day: int
    lead: np.ndarray  # index into world.lead_ids (>= n_leads: store customer)
    sec: np.ndarray  # second of day of ordered_at
    web: np.ndarray  # placed online -> has a purchase session
    product: np.ndarray
    item_count: np.ndarray
    cents: np.ndarray
    chf: np.ndarray
    status: np.ndarray
    update_delay: np.ndarray  # updated_at - ordered_at of the original row (seconds)
    refund_lag: np.ndarray  # 0 = never refunded/cancelled
    refund_kind: np.ndarray  # 0 cancelled, 1 refunded
    refund_sec: np.ndarray
    induced: np.ndarray | None = None  # placed because of a campaign (generator/campaigns.py)

    @property
    def n(self) -> int:
        """Number of orders."""
        return len(self.lead)


def _hazard(world: World, idx: np.ndarray, day: int, past_counts: np.ndarray | None) -> np.ndarray:
    """Daily order probability of leads ``idx`` (truth days: x habit x noise + baseline)."""
    persona = world.persona[idx]
    past_factor = np.array([p.past_order_factor for p in C.PROFILES[: C.N_PERSONAS]])
    h = world.p_order[idx] * world.activity(idx, day) * world.weekday_factor(day)
    ft_day = world.ft_day[idx]
    first_timer = persona == C.PERSONA_FIRST_TIME
    h = np.where(first_timer & (day <= ft_day), 0.0, h)
    if past_counts is None:
        return h * past_factor[persona]
    habit = HABIT[np.minimum(past_counts[idx], len(HABIT) - 1)]
    unsubscribed = world.unsub_day[idx] != NO_DAY
    future = np.array([p.future_factor for p in C.PROFILES[: C.N_PERSONAS]])[persona]
    h = h * habit * future * world.future_noise[idx] * np.where(unsubscribed, UNSUBSCRIBED_FUTURE_FACTOR, 1.0)
    return h + FUTURE_BASELINE_HAZARD


def orders_for_day(world: World, day: int, past_counts: np.ndarray | None = None) -> DayOrders:
    """Draw the orders of ``day``; pass ``past_counts`` for truth (future) days."""
    rng = day_rng(world.seed, day, STREAM_ORDERS)
    truth = past_counts is not None
    idx = np.flatnonzero(world.created_day <= day)
    h = _hazard(world, idx, day, past_counts)
    u = rng.random(len(idx))
    buy = (u < h) | (world.ft_day[idx] == day)
    if not truth and not buy.any() and len(idx):
        buy[np.argmax(h / np.maximum(u, 1e-12))] = True  # tiny worlds: at least one order per day
    sc_buy = rng.random(world.n_store_customers) < world.sc_p * world.weekday_factor(day)
    lead = np.concatenate([idx[buy], world.n_leads + np.flatnonzero(sc_buy)])
    natural = _order_details(world, rng, day, lead, truth)
    natural.induced = np.zeros(natural.n, dtype=bool)
    if truth or world.campaign_uplift is None:
        return natural
    from .campaigns import STREAM_CAMPAIGN, induced_leads

    extra = induced_leads(world, day)
    if len(extra) == 0:
        return natural
    # their own random stream, so the natural orders are the same with or without them;
    # completed and never refunded (truth=True)
    induced = _order_details(world, day_rng(world.seed, day, STREAM_CAMPAIGN + 1), day, extra, True)
    return DayOrders(
        day=day,
        **{name: np.concatenate([getattr(natural, name), getattr(induced, name)])
           for name in ("lead", "sec", "web", "product", "item_count", "cents", "chf", "status",
                        "update_delay", "refund_lag", "refund_kind", "refund_sec")},
        induced=np.concatenate([natural.induced, np.ones(induced.n, dtype=bool)]),
    )


def _order_details(world: World, rng: np.random.Generator, day: int, lead: np.ndarray, truth: bool) -> DayOrders:
    """Time, channel, basket, amount, status and later refund of each order."""
    n = len(lead)
    is_lead = lead < world.n_leads
    li = np.where(is_lead, lead, 0)
    persona = world.persona[li]
    web_share = np.array([p.web_order_share for p in C.PROFILES[: C.N_PERSONAS]])[persona]
    web = is_lead & (rng.random(n) < web_share)
    created_slot = world.created_sec[li] // C.SLOT_SECONDS
    created_today = is_lead & (world.created_day[li] == day)
    web &= ~(created_today & (created_slot >= C.N_SLOTS - 1))
    slot = categorical(rng, C.SLOT_WEIGHTS, n)
    later = created_slot + 1 + (rng.random(n) * np.maximum(C.N_SLOTS - 1 - created_slot, 1)).astype(np.int64)
    slot = np.where(created_today, np.minimum(later, C.N_SLOTS - 1), slot)
    web_sec = slot * C.SLOT_SECONDS + C.ANCHOR_MIN_OFFSET + rng.integers(0, 3_600, n)
    store_sec = rng.integers(8 * 3_600, 18 * 3_600, n)
    sec = np.where(web, web_sec, store_sec)

    choice = rng.random(n)
    cat = np.where(choice < 0.55, world.fav_cat[li], world.cat2[li])
    popular = categorical(rng, C.CATEGORY_WEIGHTS, n)
    cat = np.where((choice >= 0.7) | ~is_lead, popular, cat)
    product = world.catalogue.sample(rng, cat)
    focus_p = np.select(
        [persona == C.PERSONA_RESEARCHER, (persona == C.PERSONA_ABANDONER) | (persona == C.PERSONA_FREQUENT)],
        [0.9, 0.5],
        0.0,
    )
    product = np.where(is_lead & (rng.random(n) < focus_p), world.focus_prod[li], product)
    extra_mean = np.where(persona == C.PERSONA_REPEAT, 0.9, 0.5)
    item_count = 1 + np.minimum(rng.poisson(extra_mean), 9)
    extras = (item_count - 1) * (rng.integers(10, 50, n) * 100 - 5)
    cents = world.catalogue.price_cents[product] + extras
    cents = np.where(rng.random(n) < 0.15, np.round(cents * 0.9), cents).astype(np.int64)
    country = np.where(is_lead, world.country_on(li, day), world.stores.country[world.sc_store[np.maximum(lead - world.n_leads, 0)]])
    chf = country == C.COUNTRY_CODES.index("CH")
    cents = np.where(chf, np.round(cents * 1.04 / 5) * 5, cents).astype(np.int64)

    if truth:
        status = np.zeros(n, dtype=np.int64)
        refund = np.zeros(n, dtype=bool)
    else:
        status = categorical(rng, STATUS_WEIGHTS, n)
        refund = rng.random(n) < REFUND_SHARE
    refund_kind = (rng.random(n) < 0.6).astype(np.int64)
    lag = np.where(refund_kind == 1, rng.integers(3, C.REFUND_MAX_LAG + 1, n), rng.integers(1, 3, n))
    return DayOrders(
        day=day,
        lead=lead,
        sec=sec,
        web=web,
        product=product,
        item_count=item_count,
        cents=cents,
        chf=chf,
        status=status,
        update_delay=rng.integers(0, 90, n),
        refund_lag=np.where(refund, lag, 0),
        refund_kind=refund_kind,
        refund_sec=rng.integers(6 * 3_600, 22 * 3_600, n),
    )


def order_rows(world: World, orders: DayOrders, rows: np.ndarray | None = None, as_update: bool = False) -> pa.Table:
    """Landing rows (JSON literal columns + hidden ``_t``/``_cents``) for selected orders.

    With ``as_update`` the rows are the later refund/cancellation re-deliveries.
    """
    sel = np.arange(orders.n) if rows is None else np.asarray(rows, dtype=np.int64)
    day_start = (world.start_day + orders.day) * 86_400
    ordered_t = day_start + orders.sec[sel]
    if as_update:
        updated_t = (world.start_day + orders.day + orders.refund_lag[sel]) * 86_400 + orders.refund_sec[sel]
        status = take(_REFUND_LITERALS, orders.refund_kind[sel])
    else:
        updated_t = ordered_t + orders.update_delay[sel]
        status = take(_STATUS_LITERALS, orders.status[sel])
    order_id = hex_ids("o", world.key(TAG_ORDER, orders.day, sel))
    currency = take(pa.array(['"EUR"', '"CHF"']), orders.chf[sel].astype(np.int64))
    return pa.table(
        {
            "order_id": json_string(order_id),
            "lead_id": json_string(world.lead_ids.take(pa.array(orders.lead[sel]))),
            "ordered_at": json_string(format_timestamps(ordered_t)),
            "amount": json_cents(orders.cents[sel]),
            "currency": currency,
            "status": status,
            "item_count": json_int(orders.item_count[sel]),
            "updated_at": json_string(format_timestamps(updated_t)),
            "_t": pa.array(updated_t),
            "_cents": pa.array(orders.cents[sel]),
        }
    )


def refund_update_rows(world: World, day: int, get_orders: Callable[[int], DayOrders]) -> list[pa.Table]:
    """Refund/cancellation re-deliveries of earlier orders that land on ``day``."""
    out = []
    for lag in range(1, C.REFUND_MAX_LAG + 1):
        src_day = day - lag
        if src_day < 0:
            break
        orders = get_orders(src_day)
        rows = np.flatnonzero(orders.refund_lag == lag)
        if len(rows):
            out.append(order_rows(world, orders, rows, as_update=True))
    return out
