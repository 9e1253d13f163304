"""Web sessions and e-mail events of one day, fully vectorised.

A day is simulated in three steps:

1. *plan*: per entity (lead before/after signup, anonymous visitor) a Poisson
   number of sessions driven by persona rate x latent activity; forced sessions
   for web orders (ending in ``purchase`` at the order time) and for signups
   (ending in ``signup`` at ``created_at``).  Sessions of one user get distinct
   three-hour slots so that consecutive sessions are >= 30 min apart.
2. *expand*: sessions become event rows (head = login, body = browsing drawn
   from the persona's action mix, tail = cart / abandoned checkout / purchase /
   signup sequences) with exponential inter-event gaps.
3. *format*: numeric columns are turned into the landing strings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from . import config as C
from .formatting import format_timestamps, hex_ids, take
from .orders import DayOrders
from .world import NO_DAY, TAG_EMAIL_EVENT, TAG_EVENT, TAG_SESSION, World, categorical, categorical_rows, day_rng

STREAM_SESSIONS = 2
STREAM_EMAIL = 3
K_POST, K_PRE, K_VISITOR, K_PURCHASE, K_SIGNUP = range(5)
TS_STYLE_WEIGHTS = np.array([0.80, 0.12, 0.08])
SQL_QUERY_SHARE = 2e-5
UTM_LANDING_SHARE = 0.2
LOGIN_SHARE = 0.2
MEAN_GAP_SECONDS = 40.0

_PROFILE_BODY = np.array([p.body for p in C.PROFILES])
_LANDING = _PROFILE_BODY.copy()
_LANDING[:, C.A_CART] = 0.0
_LANDING[:, C.A_ACCOUNT] = 0.0
_LANDING[:, C.A_HOME] *= 2.0
_TAIL_W = np.array([(1 - sum(p.tails),) + p.tails for p in C.PROFILES])
_TAIL_CODES = np.array([C.T_NONE, C.T_CART, C.T_CART_REMOVE, C.T_ABANDON, C.T_NEWSLETTER])
_RATE = np.array([p.session_rate for p in C.PROFILES])
_BODY_MEAN = np.array([p.body_mean for p in C.PROFILES])
_FOCUS = np.array([p.focus_share for p in C.PROFILES])


@dataclass
class EventBatch:
    """Numeric event columns; -1 means null for index columns."""

    id_key: np.ndarray
    t: np.ndarray
    style: np.ndarray
    lead: np.ndarray
    anon: np.ndarray
    session_key: np.ndarray
    session_valid: np.ndarray
    action: np.ndarray
    url: np.ndarray
    page_type: np.ndarray
    product: np.ndarray
    category: np.ndarray
    query: np.ndarray
    ua: np.ndarray

    @staticmethod
    def concat(batches: list["EventBatch"]) -> "EventBatch":
        """Concatenate batches column by column."""
        return EventBatch(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(EventBatch)})

    def take(self, order: np.ndarray) -> "EventBatch":
        """Reorder / subset all columns."""
        return EventBatch(**{f.name: getattr(self, f.name)[order] for f in fields(EventBatch)})


# --------------------------------------------------------------------------- planning
@dataclass
class Sessions:
    """One row per session."""

    ent: np.ndarray  # lead index, or n_leads + visitor index
    kind: np.ndarray
    profile: np.ndarray
    slot: np.ndarray
    anchor: np.ndarray  # second of day of the last event for anchored sessions, else -1
    order_product: np.ndarray


def _forced_sessions(
    world: World, day: int, orders: DayOrders, post: np.ndarray, n_ent: int
) -> tuple[np.ndarray, ...]:
    """Per entity up to two anchored sessions: a web order's purchase session and/or the signup session.

    Returns (slot1, anchor1, kind1, product1, slot2, anchor2); -1 = none.  The
    first forced session is the purchase if there is one, else the signup.
    """
    f1_slot = np.full(n_ent, -1)
    f1_anchor = np.full(n_ent, -1)
    f1_kind = np.full(n_ent, -1)
    f1_prod = np.full(n_ent, -1)
    f2_slot = np.full(n_ent, -1)
    f2_anchor = np.full(n_ent, -1)
    web_orders = np.flatnonzero(orders.web)
    if len(web_orders):
        pos = np.searchsorted(post, orders.lead[web_orders])
        f1_slot[pos] = orders.sec[web_orders] // C.SLOT_SECONDS
        f1_anchor[pos] = orders.sec[web_orders] + 2  # purchase event 2 s after ordered_at
        f1_kind[pos] = K_PURCHASE
        f1_prod[pos] = orders.product[web_orders]
    signups = np.flatnonzero((world.created_day[post] == day) & world.web_signup[post])
    has_f1 = f1_slot[signups] >= 0
    first, second = signups[~has_f1], signups[has_f1]
    f1_slot[first] = world.created_sec[post[first]] // C.SLOT_SECONDS
    f1_anchor[first] = world.created_sec[post[first]]
    f1_kind[first] = K_SIGNUP
    f2_slot[second] = world.created_sec[post[second]] // C.SLOT_SECONDS
    f2_anchor[second] = world.created_sec[post[second]]
    return f1_slot, f1_anchor, f1_kind, f1_prod, f2_slot, f2_anchor


def _plan(world: World, rng: np.random.Generator, day: int, orders: DayOrders) -> Sessions:
    """Sessions of the day: counts per entity, distinct slots, kind and behaviour profile."""
    n_leads = world.n_leads
    wd = world.weekday_factor(day)
    post = np.flatnonzero(world.created_day <= day)
    pre = np.flatnonzero(world.has_pre & (world.pre_start <= day) & (world.created_day > day))
    vis = np.flatnonzero((world.v_start <= day) & (world.v_end >= day))
    lam = np.concatenate(
        [
            _RATE[world.persona[post]] * world.eng[post] * world.activity(post, day) * wd,
            _RATE[C.P_PRE_SIGNUP] * world.eng[pre] * wd,
            _RATE[C.P_VISITOR] * world.v_eng[vis] * wd,
        ]
    )
    ent = np.concatenate([post, pre, n_leads + vis])
    n_rand = np.minimum(rng.poisson(lam), 6)

    forced = _forced_sessions(world, day, orders, post, len(ent))
    f1_slot, f1_anchor, f1_kind, f1_prod, f2_slot, f2_anchor = forced
    n_forced = (f1_slot >= 0).astype(np.int64) + (f2_slot >= 0)
    total = n_rand + n_forced

    active = np.flatnonzero(total > 0)
    counts = total[active]
    s_ent_pos = np.repeat(active, counts)
    first = np.cumsum(counts) - counts
    j = np.arange(len(s_ent_pos)) - np.repeat(first, counts)

    keys = np.log(C.SLOT_WEIGHTS)[None, :] + rng.gumbel(size=(len(active), C.N_SLOTS))
    rows = np.arange(len(active))
    for fs in (f1_slot[active], f2_slot[active]):
        ok = fs >= 0
        keys[rows[ok], fs[ok]] = -np.inf
    slot_order = np.argsort(-keys, axis=1)
    a_idx = np.repeat(rows, counts)
    nf = n_forced[s_ent_pos]
    rand_rank = np.clip(j - nf, 0, C.N_SLOTS - 1)
    slot = slot_order[a_idx, rand_rank]
    is_f1 = j == 0
    is_f1 &= nf >= 1
    is_f2 = (j == 1) & (nf == 2)
    slot = np.where(is_f1, f1_slot[s_ent_pos], np.where(is_f2, f2_slot[s_ent_pos], slot))
    anchor = np.where(is_f1, f1_anchor[s_ent_pos], np.where(is_f2, f2_anchor[s_ent_pos], -1))

    s_ent = ent[s_ent_pos]
    lead = np.minimum(s_ent, n_leads - 1)
    is_vis = s_ent >= n_leads
    created = world.created_day[lead]
    created_slot = world.created_sec[lead] // C.SLOT_SECONDS
    pre_now = (created > day) | ((created == day) & (slot < created_slot))
    kind = np.where(is_vis, K_VISITOR, np.where(pre_now, K_PRE, K_POST))
    kind = np.where(is_f1, f1_kind[s_ent_pos], np.where(is_f2, K_SIGNUP, kind))
    profile = np.where(
        is_vis, C.P_VISITOR, np.where((kind == K_PRE) | (kind == K_SIGNUP), C.P_PRE_SIGNUP, world.persona[lead])
    )
    return Sessions(
        ent=s_ent,
        kind=kind,
        profile=profile,
        slot=slot,
        anchor=anchor,
        order_product=np.where(is_f1, f1_prod[s_ent_pos], -1),
    )


# --------------------------------------------------------------------------- expansion
def _session_attributes(world: World, rng: np.random.Generator, s: Sessions) -> dict[str, np.ndarray]:
    """Length, tail, category/product focus, device, time format, ids flags and start per session."""
    n = len(s.ent)
    n_leads = world.n_leads
    lead = np.minimum(s.ent, n_leads - 1)
    vis = np.maximum(s.ent - n_leads, 0)
    is_vis = s.ent >= n_leads
    is_lead_session = (s.kind == K_POST) | (s.kind == K_PURCHASE)

    body = 1 + rng.poisson(_BODY_MEAN[s.profile] - 1.0)
    body = np.where(s.kind == K_SIGNUP, 1 + rng.poisson(0.8, n), body)
    body = np.where(s.kind == K_PURCHASE, body + 1, body)
    body = np.minimum(body, 30)
    head = (is_lead_session & (rng.random(n) < LOGIN_SHARE)).astype(np.int64)
    tail = _TAIL_CODES[categorical_rows(rng, _TAIL_W, s.profile)]
    tail = np.where(s.kind == K_PURCHASE, C.T_PURCHASE, np.where(s.kind == K_SIGNUP, C.T_SIGNUP, tail))

    choice = rng.random(n)
    popular = categorical(rng, C.CATEGORY_WEIGHTS, n)
    lead_cat = np.where(choice < 0.6, world.fav_cat[lead], np.where(choice < 0.8, world.cat2[lead], popular))
    vis_cat = np.where(choice < 0.5, world.v_cat[vis], popular)
    cat = np.where(is_vis, vis_cat, lead_cat)
    product = world.catalogue.sample(rng, cat)
    persona = world.persona[lead]
    focus_persona = (persona == C.PERSONA_RESEARCHER) | (persona == C.PERSONA_FREQUENT) | (
        persona == C.PERSONA_ABANDONER
    )
    use_focus = ~is_vis & focus_persona & (rng.random(n) < np.where(s.kind == K_PRE, 0.5, 0.85))
    product = np.where(use_focus, world.focus_prod[lead], product)
    product = np.where(s.order_product >= 0, s.order_product, product)
    cat = np.where(use_focus | (s.order_product >= 0), world.catalogue.category[product], cat)

    device = np.where(is_vis, world.v_device[vis], world.device[lead])
    device = np.where(rng.random(n) < 0.2, categorical(rng, C.USER_AGENT_WEIGHTS, n), device)
    store = np.where(is_vis, world.v_store[vis], world.store[lead])
    return {
        "head": head,
        "body": body,
        "tail": tail,
        "cat": cat,
        "product": product,
        "device": device,
        "store": store,
        "style": categorical(rng, TS_STYLE_WEIGHTS, n),
        "sid_valid": rng.random(n) >= C.SESSION_ID_NULL_SHARE,
        "cookie": ~is_lead_session | (rng.random(n) < C.POST_SIGNUP_COOKIE_SHARE),
        "utm": np.where(rng.random(n) < UTM_LANDING_SHARE, rng.integers(0, len(C.UTM_SUFFIXES), n), -1),
        "start": s.slot * C.SLOT_SECONDS + rng.integers(0, C.SESSION_START_SPREAD, n),
    }


def _event_pages(
    world: World, rng: np.random.Generator, action: np.ndarray, sess: np.ndarray, landing: np.ndarray,
    s: Sessions, a: dict[str, np.ndarray], day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """product, category, query and url index per event."""
    e = len(action)
    vocab = world.vocab
    base = vocab.base
    profile = s.profile[sess]
    s_cat = a["cat"][sess]
    s_prod = a["product"][sess]
    frequent = profile == C.PERSONA_FREQUENT
    wander = frequent & (rng.random(e) < 0.6)
    ev_cat = np.where(wander, categorical(rng, C.CATEGORY_WEIGHTS, e), s_cat)

    product = np.full(e, -1)
    is_view = action == C.A_PRODUCT
    focus = rng.random(e) < _FOCUS[profile]
    sampled = world.catalogue.sample(rng, ev_cat)
    product = np.where(is_view, np.where(focus, s_prod, sampled), product)
    uses_session_product = (action == C.A_ADD) | (action == C.A_REMOVE) | (action == C.A_PURCHASE)
    product = np.where(uses_session_product, s_prod, product)
    has_product = product >= 0
    category = np.where(has_product, world.catalogue.category[np.maximum(product, 0)], -1)
    category = np.where(action == C.A_CATEGORY, ev_cat, category)

    query = np.full(e, -1)
    is_search = action == C.A_SEARCH
    if is_search.any():
        r = rng.random(e)
        pick = rng.integers(0, 1 << 30, e)
        cat_q = vocab.category_query_start[ev_cat] + pick % vocab.category_query_count[ev_cat]
        generic_q = vocab.query_base["generic"] + pick % len(C.GENERIC_QUERIES)
        product_q = vocab.query_base["product"] + s_prod
        researcher = profile == C.PERSONA_RESEARCHER
        q = np.where(r < 0.22, generic_q, cat_q)
        q = np.where(researcher & (r > 0.4), product_q, q)
        q = np.where(r < SQL_QUERY_SHARE, vocab.query_base["sql"] + pick % len(C.SQL_LIKE_QUERIES), q)
        if day == 0:
            q[np.flatnonzero(is_search)[0]] = vocab.query_base["sql"]
        query = np.where(is_search, q, -1)

    pick = rng.integers(0, 1 << 30, e)
    url = np.full(e, -1)
    simple = {
        C.A_HOME: base["home"], C.A_ABOUT: base["about"], C.A_CART: base["cart"], C.A_REMOVE: base["cart"],
        C.A_CHECKOUT: base["checkout"], C.A_PURCHASE: base["confirmation"],
        C.A_FORM_NEWSLETTER: base["newsletter"], C.A_FORM_SIGNUP: base["register"],
        C.A_SIGNUP: base["register"], C.A_LOGIN: base["login"],
    }
    lookup = np.full(C.A_UNSUBSCRIBE + 1, -1)
    for act, b in simple.items():
        lookup[act] = b
    url = lookup[action]
    url = np.where(action == C.A_CATEGORY, base["category"] + ev_cat, url)
    url = np.where(is_view | (action == C.A_ADD), base["product"] + np.maximum(product, 0), url)
    url = np.where(is_search, base["search"] + np.maximum(query, 0), url)
    url = np.where(action == C.A_BLOG, base["blog"] + pick % len(C.BLOG_SLUGS), url)
    url = np.where(action == C.A_SUPPORT, base["support"] + pick % len(C.SUPPORT_PATHS), url)
    url = np.where(action == C.A_CAREERS, base["careers"] + pick % len(C.CAREERS_PATHS), url)
    url = np.where(action == C.A_ACCOUNT, base["account"] + pick % len(C.ACCOUNT_PATHS), url)
    url = np.where(action == C.A_STORE, base["store"] + a["store"][sess], url)
    utm = a["utm"][sess]
    tagged = landing & (utm >= 0)
    n_utm = vocab.n_utm
    url = np.where(tagged & (action == C.A_HOME), base["home_utm"] + utm, url)
    url = np.where(tagged & (action == C.A_CATEGORY), base["category_utm"] + ev_cat * n_utm + utm, url)
    url = np.where(tagged & is_view, base["product_utm"] + np.maximum(product, 0) * n_utm + utm, url)
    return product, category, query, url


def _expand(world: World, rng: np.random.Generator, day: int, s: Sessions) -> EventBatch:
    """One row per event: actions, timestamps, pages and identities."""
    a = _session_attributes(world, rng, s)
    n_sess = len(s.ent)
    length = a["head"] + a["body"] + C.TAIL_LENGTH[a["tail"]]
    n_ev = int(length.sum())
    sess = np.repeat(np.arange(n_sess), length)
    first = np.cumsum(length) - length
    pos = np.arange(n_ev) - first[sess]
    head = a["head"][sess]
    body_end = head + a["body"][sess]
    action = np.empty(n_ev, dtype=np.int64)
    in_head = pos < head
    in_body = ~in_head & (pos < body_end)
    landing = in_body & (pos == head)
    browse = in_body & ~landing
    in_tail = pos >= body_end
    action[in_head] = C.A_LOGIN
    action[landing] = categorical_rows(rng, _LANDING, s.profile[sess[landing]])
    action[browse] = categorical_rows(rng, _PROFILE_BODY, s.profile[sess[browse]])
    action[in_tail] = C.TAIL_TABLE[a["tail"][sess[in_tail]], (pos - body_end)[in_tail]]

    gap = np.minimum(rng.exponential(MEAN_GAP_SECONDS, n_ev) + 2.0, 900.0)
    gap[first] = 0.0
    total = np.bincount(sess, weights=gap, minlength=n_sess)
    gap *= np.minimum(1.0, C.SESSION_MAX_DURATION / np.maximum(total, 1.0))[sess]
    cs = np.cumsum(gap)
    offset = np.floor(cs - cs[first][sess]).astype(np.int64)
    duration = offset[first + length - 1]
    start = np.where(s.anchor >= 0, s.anchor - duration, a["start"])
    t = (world.start_day + day) * 86_400 + start[sess] + offset

    product, category, query, url = _event_pages(world, rng, action, sess, landing, s, a, day)
    page_type = C.ACTION_PAGE_TYPE[action].astype(np.int64)
    page_type = np.where(rng.random(n_ev) < C.PAGE_TYPE_NULL_SHARE, -1, page_type)
    kind = s.kind[sess]
    lead_on = (kind == K_POST) | (kind == K_PURCHASE) | ((kind == K_SIGNUP) & (action == C.A_SIGNUP))
    ent = s.ent[sess]
    return EventBatch(
        id_key=world.key(TAG_EVENT, day, np.arange(n_ev)),
        t=t,
        style=a["style"][sess],
        lead=np.where(lead_on, ent, -1),
        anon=np.where(a["cookie"][sess], ent, -1),
        session_key=world.key(TAG_SESSION, day, sess),
        session_valid=a["sid_valid"][sess],
        action=action,
        url=url,
        page_type=page_type,
        product=product,
        category=category,
        query=query,
        ua=a["device"][sess],
    )


# --------------------------------------------------------------------------- e-mail
def email_events(world: World, day: int) -> EventBatch | None:
    """Newsletter opens/clicks/bounces/unsubscribes on campaign days."""
    if day not in set(world.campaign_days.tolist()):
        return None
    rng = day_rng(world.seed, day, STREAM_EMAIL)
    idx = np.flatnonzero(world.created_day < day)
    consent = world.consent_before(idx, day)
    unsubscribed = (world.unsub_day[idx] != NO_DAY) & (world.unsub_day[idx] < day)
    bounced = world.bad_email[idx] & (world.first_campaign_day[idx] < day)
    r = idx[consent & ~unsubscribed & ~bounced]
    n = len(r)
    send = C.EMAIL_SEND_SECOND
    bounce = world.bad_email[r] & (world.first_campaign_day[r] == day)
    unsub = world.unsub_day[r] == day
    g = np.clip(world.activity(r, day) ** 0.3, 0.3, 1.5)
    opened = ~bounce & ((rng.random(n) < world.open_p[r] * g) | unsub)
    open_sec = np.minimum(send + rng.exponential(3 * 3_600, n), 80_000).astype(np.int64)
    open_sec = np.where(unsub, world.unsub_sec[r] - 30 - rng.integers(0, 600, n), open_sec)
    clicked = opened & ~unsub & (rng.random(n) < world.click_p[r])
    click_sec = np.minimum(open_sec + 5 + rng.exponential(60, n).astype(np.int64), 86_399)
    parts = [
        (r[bounce], C.A_EMAIL_BOUNCE, send + rng.integers(1, 600, n)[bounce]),
        (r[opened], C.A_EMAIL_OPEN, open_sec[opened]),
        (r[clicked], C.A_EMAIL_CLICK, click_sec[clicked]),
        (r[unsub], C.A_UNSUBSCRIBE, world.unsub_sec[r[unsub]]),
    ]
    lead = np.concatenate([p[0] for p in parts])
    action = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    sec = np.concatenate([p[2] for p in parts]).astype(np.int64)
    m = len(lead)
    is_click = action == C.A_EMAIL_CLICK
    url = np.where(is_click, world.vocab.base["email_category"] + world.fav_cat[lead], -1)
    return EventBatch(
        id_key=world.key(TAG_EMAIL_EVENT, day, np.arange(m)),
        t=(world.start_day + day) * 86_400 + sec,
        style=np.where(rng.random(m) < 0.9, 0, 2),
        lead=lead,
        anon=np.full(m, -1),
        session_key=np.zeros(m, dtype=np.uint64),
        session_valid=np.zeros(m, dtype=bool),
        action=action,
        url=url,
        page_type=np.full(m, -1),
        product=np.full(m, -1),
        category=np.full(m, -1),
        query=np.full(m, -1),
        ua=np.where(is_click, world.device[lead], -1),
    )


# --------------------------------------------------------------------------- public
def events_for_day(world: World, day: int, orders: DayOrders) -> EventBatch:
    """All valid events of ``day`` (web + e-mail), sorted by time."""
    rng = day_rng(world.seed, day, STREAM_SESSIONS)
    batches = [_expand(world, rng, day, _plan(world, rng, day, orders))]
    mail = email_events(world, day)
    if mail is not None:
        batches.append(mail)
    batch = EventBatch.concat(batches)
    return batch.take(np.argsort(batch.t, kind="stable"))


def event_table(world: World, b: EventBatch) -> pa.Table:
    """Landing-format string columns plus a hidden ``_t`` (epoch seconds)."""
    v = world.vocab
    return pa.table(
        {
            "event_id": hex_ids("e", b.id_key),
            "occurred_at": format_timestamps(b.t, b.style),
            "lead_id": take(world.lead_ids, b.lead, b.lead >= 0),
            "anonymous_id": take(world.anon_ids, b.anon, b.anon >= 0),
            "session_id": hex_ids("s", b.session_key, b.session_valid),
            "event_type": take(v.event_types, C.ACTION_EVENT_TYPE[b.action]),
            "page_url": take(v.urls, b.url, b.url >= 0),
            "page_type": take(v.page_types, b.page_type, b.page_type >= 0),
            "product_id": take(world.catalogue.product_ids, b.product, b.product >= 0),
            "product_category": take(v.categories, b.category, b.category >= 0),
            "search_query": take(v.queries, b.query, b.query >= 0),
            "user_agent": take(v.user_agents, b.ua, b.ua >= 0),
            "_t": pa.array(b.t),
        }
    )
