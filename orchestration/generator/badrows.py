"""Bad-row injection.

Bad rows are *extra* rows added to a day's file; the valid rows are never
altered, so the clean world is identical for every ``bad_row_share``.  Each bad
row exhibits exactly one problem (its kind).  Rows that are not re-deliveries
get fresh ids (from a separate id space) so they never collide with valid rows.
The number of rows per kind and day is Poisson(share * valid_rows / n_kinds);
on a couple of deterministic days per kind at least one row is forced, so even
tiny runs contain every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import config as C
from .events import EventBatch, event_table
from .formatting import format_timestamps, hex_ids, json_cents, json_string, take
from .leads import lead_row_pool, lead_rows
from .orders import DayOrders, order_rows
from .world import TAG_BAD_EVENT, TAG_BAD_ORDER, World, day_rng

STREAM_BAD = 4
ENTITY_CODES = {"events": 0, "leads": 1, "orders": 2}
_REDELIVERY = ("exact_redelivery", "conflicting_redelivery")


@dataclass
class BadRows:
    """Bad rows of one entity/day plus their per-kind counts."""

    table: pa.Table | None
    counts: dict[str, int]


def forced_days(world: World, entity: str, kind_index: int, kind: str) -> set[int]:
    """Deterministic days on which at least one row of this kind is injected."""
    lo = 1 if kind in _REDELIVERY else 0
    span = world.days - lo
    if span <= 0:
        return set()
    rng = np.random.default_rng([world.seed & 0xFFFFFFFF, 77, ENTITY_CODES[entity], kind_index])
    k = min(C.BAD_FORCED_DAYS_PER_KIND, span)
    return set((lo + rng.choice(span, k, replace=False)).tolist())


def _kind_counts(world: World, entity: str, kinds: tuple[str, ...], day: int, n_valid: int,
                 share: float, rng: np.random.Generator) -> dict[str, int]:
    lam = share * n_valid / len(kinds)
    counts = rng.poisson(lam, len(kinds))
    out = {}
    for i, kind in enumerate(kinds):
        c = int(counts[i])
        if day in forced_days(world, entity, i, kind):
            c = max(c, 1)
        out[kind] = c
    return out


def _replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _sample(rng: np.random.Generator, population: int, n: int) -> np.ndarray:
    """``n`` distinct indices when possible (repeats only if n > population)."""
    return rng.choice(population, n, replace=n > population)


def _pick(rng: np.random.Generator, table: pa.Table | None, n: int) -> pa.Table | None:
    if table is None or table.num_rows == 0 or n == 0:
        return None
    return table.take(pa.array(_sample(rng, table.num_rows, n)))


def _garbage_timestamps(rng: np.random.Generator, n: int, year: int) -> pa.Array:
    values = [v.format(year=year) for v in C.UNPARSEABLE_TIMESTAMPS]
    return take(pa.array(values), rng.integers(0, len(values), n))


def _future_timestamps(world: World, rng: np.random.Generator, n: int) -> pa.Array:
    end = world.start_day + world.days - 1
    soon = (end + C.TRUTH_DAYS) * 86_400 + rng.integers(0, 86_400, n)
    return pc.if_else(pa.array(rng.random(n) < 0.5), pa.scalar(C.FAR_FUTURE_TIMESTAMP), format_timestamps(soon))


def _empty_or_null(rng: np.random.Generator, n: int) -> pa.Array:
    return take(pa.array(["", None]), rng.integers(0, 2, n), rng.random(n) < 0.5)


def _day_times(world: World, rng: np.random.Generator, day: int, n: int) -> pa.Array:
    return pa.array((world.start_day + day) * 86_400 + rng.integers(0, 86_400, n))


def _finish(parts: list[pa.Table], counts: dict[str, int]) -> BadRows:
    parts = [p for p in parts if p is not None and p.num_rows]
    return BadRows(pa.concat_tables(parts) if parts else None, counts)


# --------------------------------------------------------------------------- events
def event_bad_rows(world: World, day: int, valid: pa.Table, sources: list[EventBatch], share: float) -> BadRows:
    """Corrupted copies of today's events and re-deliveries of the last days' events."""
    rng = day_rng(world.seed, day, STREAM_BAD * 10 + ENTITY_CODES["events"])
    want = _kind_counts(world, "events", C.EVENT_BAD_KINDS, day, valid.num_rows, share, rng)
    year = world_year(world, day)
    parts: list[pa.Table] = []
    counts = dict.fromkeys(C.EVENT_BAD_KINDS, 0)
    next_id = 0

    def fresh_ids(t: pa.Table) -> pa.Table:
        nonlocal next_id
        keys = world.key(TAG_BAD_EVENT, day, np.arange(next_id, next_id + t.num_rows))
        next_id += t.num_rows
        return _replace(t, "event_id", hex_ids("e", keys))

    for kind in C.EVENT_BAD_KINDS:
        n = want[kind]
        if kind in _REDELIVERY:
            t = _pick_events(world, rng, sources, n)
            if t is None:
                continue
            if kind == "conflicting_redelivery":
                t = _conflicting_event(rng, t)
            t = _replace(t, "_t", _day_times(world, rng, day, t.num_rows))
        else:
            t = _pick(rng, valid, n)
            if t is None:
                continue
            m = t.num_rows
            if kind == "unparseable_timestamp":
                t = _replace(fresh_ids(t), "occurred_at", _garbage_timestamps(rng, m, year))
            elif kind == "missing_id":
                t = _replace(t, "event_id", _empty_or_null(rng, m))
            elif kind == "missing_lead_and_anonymous_id":
                t = fresh_ids(t)
                t = _replace(t, "lead_id", pa.nulls(m, pa.string()))
                t = _replace(t, "anonymous_id", pa.nulls(m, pa.string()))
            elif kind == "unknown_event_type":
                t = fresh_ids(t)
                t = _replace(t, "event_type", take(pa.array(list(C.UNKNOWN_EVENT_TYPES)), rng.integers(0, 3, m)))
            elif kind == "future_timestamp":
                t = _replace(fresh_ids(t), "occurred_at", _future_timestamps(world, rng, m))
        parts.append(t)
        counts[kind] = t.num_rows
    return _finish(parts, counts)


def _pick_events(world: World, rng: np.random.Generator, sources: list[EventBatch], n: int) -> pa.Table | None:
    """``n`` random valid events of the previous days, formatted exactly as originally written."""
    sizes = np.array([len(b.t) for b in sources], dtype=np.int64)
    if n == 0 or sizes.sum() == 0:
        return None
    picks = _sample(rng, int(sizes.sum()), n)
    bounds = np.cumsum(sizes) - sizes
    owner = np.searchsorted(bounds, picks, side="right") - 1
    batch = EventBatch.concat([sources[i].take(picks[owner == i] - bounds[i]) for i in range(len(sources))])
    return event_table(world, batch)


def _conflicting_event(rng: np.random.Generator, t: pa.Table) -> pa.Table:
    m = t.num_rows
    web = [e for e in C.EVENT_TYPES if not e.startswith("email") and e != "unsubscribe"]
    mail = [e for e in C.EVENT_TYPES if e not in web]
    groups = pa.array(web + mail)
    orig = pc.index_in(t.column("event_type"), value_set=groups).to_numpy(zero_copy_only=False)
    is_mail = orig >= len(web)
    size = np.where(is_mail, len(mail), len(web))
    base = np.where(is_mail, len(web), 0)
    new_type = take(groups, base + (orig - base + rng.integers(1, 1 << 20, m) % (size - 1) + 1) % size)
    shifted = format_timestamps(t.column("_t").to_numpy() + rng.integers(17, 3_600, m))
    change_type = pa.array(rng.random(m) < 0.5)
    t = _replace(t, "event_type", pc.if_else(change_type, new_type, t.column("event_type")))
    return _replace(t, "occurred_at", pc.if_else(change_type, t.column("occurred_at"), shifted))


def world_year(world: World, day: int) -> int:
    """Calendar year of day index ``day``."""
    return int(np.datetime64(int(world.start_day + day), "D").astype("datetime64[Y]").astype(int) + 1970)


# --------------------------------------------------------------------------- leads
def lead_bad_rows(world: World, day: int, valid: pa.Table, share: float) -> BadRows:
    """Corrupted lead rows and re-deliveries of lead rows from earlier files."""
    rng = day_rng(world.seed, day, STREAM_BAD * 10 + ENTITY_CODES["leads"])
    want = _kind_counts(world, "leads", C.LEAD_BAD_KINDS, day, valid.num_rows, share, rng)
    year = world_year(world, day)
    parts: list[pa.Table] = []
    counts = dict.fromkeys(C.LEAD_BAD_KINDS, 0)
    pool_idx, pool_upd = lead_row_pool(world, day)
    template = valid
    if template.num_rows == 0:
        known = np.flatnonzero(world.file_day <= day)
        template = lead_rows(world, known[:1]) if len(known) else None
    for kind in C.LEAD_BAD_KINDS:
        n = want[kind]
        if n == 0:
            continue
        if kind in _REDELIVERY:
            if len(pool_idx) == 0:
                continue
            pick = _sample(rng, len(pool_idx), n)
            t = lead_rows(world, pool_idx[pick], pool_upd[pick])
            if kind == "conflicting_redelivery":
                t = _conflicting_lead(world, rng, t)
            t = _replace(t, "_t", _day_times(world, rng, day, n))
        else:
            t = _pick(rng, template, n)
            if t is None:
                continue
            if kind == "missing_id":
                t = _replace(t, "lead_id", _empty_or_null(rng, n))
            else:  # updated_at always garbled, so (lead_id, updated_at) never matches a valid row
                t = _replace(t, "updated_at", _garbage_timestamps(rng, n, year))
                both = pa.array(rng.random(n) < 0.5)
                t = _replace(t, "created_at", pc.if_else(both, _garbage_timestamps(rng, n, year), t.column("created_at")))
        parts.append(t)
        counts[kind] = t.num_rows
    return _finish(parts, counts)


def _conflicting_lead(world: World, rng: np.random.Generator, t: pa.Table) -> pa.Table:
    """Same lead_id and updated_at, different content (consent flipped or another address)."""
    m = t.num_rows
    flip = pa.array(rng.random(m) < 0.5)  # True: consent only; False: consent and address
    t = _replace(t, "marketing_consent", pc.invert(t.column("marketing_consent")))
    other = rng.integers(0, world.n_leads, m)
    country = take(world.vocab.countries, world.country[other])
    t = _replace(t, "country_code", pc.if_else(flip, t.column("country_code"), country))
    for col, src in (("postal_code", world.postal), ("city", world.city)):
        t = _replace(t, col, pc.if_else(flip, t.column(col), src.take(pa.array(other))))
    for col, src in (("latitude", world.lat), ("longitude", world.lon)):
        t = _replace(t, col, pc.if_else(flip, t.column(col), pa.array(src[other])))
    return t


# --------------------------------------------------------------------------- orders
def order_bad_rows(
    world: World, day: int, valid: pa.Table, get_orders: Callable[[int], DayOrders], share: float
) -> BadRows:
    """Corrupted order rows and re-deliveries of orders from the previous week."""
    rng = day_rng(world.seed, day, STREAM_BAD * 10 + ENTITY_CODES["orders"])
    want = _kind_counts(world, "orders", C.ORDER_BAD_KINDS, day, valid.num_rows, share, rng)
    year = world_year(world, day)
    parts: list[pa.Table] = []
    counts = dict.fromkeys(C.ORDER_BAD_KINDS, 0)
    next_id = 0

    def fresh_ids(t: pa.Table) -> pa.Table:
        nonlocal next_id
        keys = world.key(TAG_BAD_ORDER, day, np.arange(next_id, next_id + t.num_rows))
        next_id += t.num_rows
        return _replace(t, "order_id", json_string(hex_ids("o", keys)))

    for kind in C.ORDER_BAD_KINDS:
        n = want[kind]
        if n == 0:
            continue
        if kind in _REDELIVERY:
            t = _earlier_orders(world, rng, day, get_orders, n)
            if t is None:
                continue
            if kind == "conflicting_redelivery":
                cents = t.column("_cents").to_numpy()
                factor = rng.choice([0.5, 0.8, 1.1, 1.25, 2.0], t.num_rows)
                t = _replace(t, "amount", json_cents(np.round(cents * factor).astype(np.int64)))
            t = _replace(t, "_t", _day_times(world, rng, day, t.num_rows))
        else:
            t = _pick(rng, valid, n)
            if t is None:
                continue
            m = t.num_rows
            if kind == "missing_id":
                t = _replace(t, "order_id", take(pa.array(['""', "null"]), rng.integers(0, 2, m), rng.random(m) < 0.67))
            elif kind == "missing_lead_and_anonymous_id":
                t = fresh_ids(t)
                t = _replace(t, "lead_id", take(pa.array(['""', "null"]), rng.integers(0, 2, m), rng.random(m) < 0.67))
            elif kind == "unparseable_timestamp":
                t = _replace(fresh_ids(t), "ordered_at", json_string(_garbage_timestamps(rng, m, year)))
            elif kind == "negative_amount":
                t = _replace(fresh_ids(t), "amount", json_cents(-np.maximum(t.column("_cents").to_numpy(), 1)))
            elif kind == "non_numeric_amount":
                values = take(pa.array(list(C.NON_NUMERIC_AMOUNTS)), rng.integers(0, len(C.NON_NUMERIC_AMOUNTS), m))
                t = _replace(fresh_ids(t), "amount", json_string(values))
            elif kind == "unknown_status":
                values = take(pa.array(list(C.UNKNOWN_STATUSES)), rng.integers(0, len(C.UNKNOWN_STATUSES), m))
                t = _replace(fresh_ids(t), "status", json_string(values))
            elif kind == "future_timestamp":
                t = _replace(fresh_ids(t), "ordered_at", json_string(_future_timestamps(world, rng, m)))
        parts.append(t)
        counts[kind] = t.num_rows
    return _finish(parts, counts)


def _earlier_orders(
    world: World, rng: np.random.Generator, day: int, get_orders: Callable[[int], DayOrders], n: int
) -> pa.Table | None:
    """``n`` original order rows from the previous ORDER_REDELIVERY_MAX_LAG days."""
    if day < 1:
        return None
    lags = rng.integers(1, min(C.ORDER_REDELIVERY_MAX_LAG, day) + 1, n)
    tables = []
    for lag in np.unique(lags):
        src = day - int(lag)
        while src >= 0 and get_orders(src).n == 0:
            src -= 1
        if src < 0:
            continue
        orders = get_orders(src)
        rows = _sample(rng, orders.n, int((lags == lag).sum()))
        tables.append(order_rows(world, orders, rows))
    return pa.concat_tables(tables) if tables else None
