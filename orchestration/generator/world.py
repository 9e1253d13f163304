"""The static world: stores, catalogue, vocabulary and every lead's latent traits.

Everything that does not change from day to day is drawn once here from the
seed (persona, creation time, home, latent purchase propensity, activity curve,
favourite category, e-mail behaviour, profile updates, ...).  The per-day
simulators only read these arrays, which is what makes any single day
reproducible on its own.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import config as C
from .formatting import date_to_day, format_dates, hex_ids, padded_ids, take

STORES_CSV = Path(__file__).resolve().parents[2] / "seeds/reference/stores.csv"

TAG_EVENT, TAG_SESSION, TAG_ORDER, TAG_ANON, TAG_EMAIL_EVENT, TAG_BAD_EVENT, TAG_BAD_ORDER = range(1, 8)
NO_DAY = -(2**30)
PersonaLookup = Callable[[str], np.ndarray]  # profile attribute -> value per lead


def day_rng(seed: int, day: int, stream: int) -> np.random.Generator:
    """Independent random stream for (seed, day, purpose)."""
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, stream, day + 100_000]))


def categorical(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n draws from a categorical distribution given unnormalised weights."""
    cdf = np.cumsum(weights, dtype=float)
    return np.searchsorted(cdf / cdf[-1], rng.random(n), side="right").astype(np.int64)


def categorical_rows(rng: np.random.Generator, weight_matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per element of ``rows`` from the categorical ``weight_matrix[row]``."""
    w = np.asarray(weight_matrix, dtype=float)
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    k = w.shape[1]
    flat = (cdf + np.arange(len(w))[:, None]).reshape(-1)
    pos = np.searchsorted(flat, rows + rng.random(len(rows)), side="right")
    return np.minimum(pos - rows * k, k - 1).astype(np.int64)


# --------------------------------------------------------------------------- reference data
@dataclass(frozen=True)
class Stores:
    """The shop's physical stores (from ``seeds/reference/stores.csv``)."""

    ids: tuple[str, ...]
    cities: tuple[str, ...]
    country: np.ndarray  # index into COUNTRY_CODES
    postal: np.ndarray  # numeric postal code
    lat: np.ndarray
    lon: np.ndarray


def load_stores(path: Path = STORES_CSV) -> Stores:
    """Read the store reference file."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return Stores(
        ids=tuple(r["store_id"] for r in rows),
        cities=tuple(r["city"] for r in rows),
        country=np.array([C.COUNTRY_CODES.index(r["country_code"]) for r in rows]),
        postal=np.array([int("".join(ch for ch in r["postal_code"] if ch.isdigit())) for r in rows]),
        lat=np.array([float(r["latitude"]) for r in rows]),
        lon=np.array([float(r["longitude"]) for r in rows]),
    )


@dataclass(frozen=True)
class Catalogue:
    """Products: category, price and popularity (Zipf within category)."""

    category: np.ndarray
    price_cents: np.ndarray
    product_ids: pa.Array
    cdf_flat: np.ndarray

    def sample(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        """Draw one product per element of ``categories`` (popular ones more often)."""
        cats = np.asarray(categories, dtype=np.int64)
        pos = np.searchsorted(self.cdf_flat, cats + rng.random(len(cats)), side="right")
        return np.minimum(pos, (cats + 1) * C.PRODUCTS_PER_CATEGORY - 1)


def build_catalogue(seed: int) -> Catalogue:
    """Deterministic product catalogue."""
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, 11]))
    n_cat, per = len(C.CATEGORIES), C.PRODUCTS_PER_CATEGORY
    category = np.repeat(np.arange(n_cat), per)
    ids = 10_000 + rng.choice(89_999, n_cat * per, replace=False)
    median = C.CATEGORY_MEDIAN_PRICE_EUR[category]
    euros = np.maximum(np.round(median * np.exp(rng.normal(0, 0.4, len(category)))), 5)
    w = 1.0 / np.arange(1, per + 1) ** C.PRODUCT_ZIPF_EXPONENT
    cdf = np.cumsum(w) / w.sum()
    cdf[-1] = 1.0
    cdf_flat = (np.arange(n_cat)[:, None] + cdf[None, :]).reshape(-1)
    return Catalogue(
        category=category,
        price_cents=(euros * 100 - 5).astype(np.int64),
        product_ids=pa.array([str(i) for i in ids]),
        cdf_flat=cdf_flat,
    )


class Vocabulary:
    """All URL / query / label dictionaries; events store indices into them."""

    def __init__(self, catalogue: Catalogue, stores: Stores) -> None:
        urls: list[str] = []
        self.base: dict[str, int] = {}

        def add(name: str, paths: list[str]) -> None:
            self.base[name] = len(urls)
            urls.extend(C.SHOP_BASE_URL + p for p in paths)

        n_utm = len(C.UTM_SUFFIXES)
        product_paths = [
            f"/p/{C.CATEGORIES[c]}/{pid}" for c, pid in zip(catalogue.category, catalogue.product_ids.to_pylist())
        ]
        add("home", ["/"])
        add("home_utm", ["/" + u for u in C.UTM_SUFFIXES])
        add("category", [f"/c/{c}" for c in C.CATEGORIES])
        add("category_utm", [f"/c/{c}{u}" for c in C.CATEGORIES for u in C.UTM_SUFFIXES])
        add("product", product_paths)
        add("product_utm", [p + u for p in product_paths for u in C.UTM_SUFFIXES])
        self.n_utm = n_utm

        queries: list[str] = []
        self.query_base: dict[str, int] = {}
        self.category_query_start = np.zeros(len(C.CATEGORIES), dtype=np.int64)
        self.category_query_count = np.zeros(len(C.CATEGORIES), dtype=np.int64)
        self.query_base["category"] = 0
        for c, terms in enumerate(C.CATEGORY_QUERIES):
            self.category_query_start[c] = len(queries)
            self.category_query_count[c] = len(terms)
            queries.extend(terms)
        self.query_base["generic"] = len(queries)
        queries.extend(C.GENERIC_QUERIES)
        self.query_base["product"] = len(queries)
        for k, c in enumerate(catalogue.category):
            per = k % C.PRODUCTS_PER_CATEGORY
            nouns = C.CATEGORY_NOUNS[c]
            name = (
                f"{C.BRANDS[per % len(C.BRANDS)]} {C.MODELS[(per // len(C.BRANDS)) % len(C.MODELS)]}"
                f" {nouns[per % len(nouns)]}"
            )
            queries.append(name.lower())
        self.query_base["sql"] = len(queries)
        queries.extend(C.SQL_LIKE_QUERIES)
        self.queries = pa.array(queries)

        add("search", ["/search?q=" + quote_plus(q) for q in queries])
        add("blog", [f"/blog/{s}" for s in C.BLOG_SLUGS])
        add("support", list(C.SUPPORT_PATHS))
        add("careers", list(C.CAREERS_PATHS))
        add("about", ["/about"])
        add("store", [f"/stores/{s}/opening-hours" for s in stores.ids])
        add("account", list(C.ACCOUNT_PATHS))
        add("cart", ["/cart"])
        add("checkout", ["/checkout"])
        add("confirmation", ["/checkout/confirmation"])
        add("newsletter", ["/account/newsletter"])
        add("register", ["/account/register"])
        add("login", ["/account/login"])
        add("email_category", [f"/c/{c}{C.EMAIL_UTM}" for c in C.CATEGORIES])
        self.urls = pa.array(urls)
        self.event_types = pa.array(list(C.EVENT_TYPES))
        self.page_types = pa.array(list(C.PAGE_TYPES))
        self.categories = pa.array(list(C.CATEGORIES))
        self.user_agents = pa.array(list(C.USER_AGENTS))
        self.channels = pa.array(list(C.CHANNELS))
        self.countries = pa.array(list(C.COUNTRY_CODES))


# --------------------------------------------------------------------------- leads
@dataclass
class World:
    """Static per-entity state; entity = lead (0..N-1) or anonymous visitor (N..N+V-1)."""

    seed: int
    salt: int
    n_leads: int
    n_visitors: int
    n_store_customers: int
    days: int
    start_day: int  # epoch day number of day index 0
    stores: Stores
    catalogue: Catalogue
    vocab: Vocabulary
    campaign_days: np.ndarray
    lead_ids: pa.Array  # N leads followed by M store customers
    anon_ids: pa.Array  # N leads followed by V visitors
    # --- leads (length N)
    persona: np.ndarray
    created_day: np.ndarray
    created_sec: np.ndarray
    file_day: np.ndarray
    channel: np.ndarray
    web_signup: np.ndarray
    has_pre: np.ndarray
    pre_start: np.ndarray
    eng: np.ndarray
    trend: np.ndarray
    bump_base: np.ndarray
    bump_amp: np.ndarray
    bump_center: np.ndarray
    bump_width: np.ndarray
    p_order: np.ndarray
    future_noise: np.ndarray
    ft_day: np.ndarray
    fav_cat: np.ndarray
    cat2: np.ndarray
    focus_prod: np.ndarray
    device: np.ndarray
    store: np.ndarray
    country: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    postal: pa.Array
    city: pa.Array
    update_day: np.ndarray
    update_sec: np.ndarray
    moved: np.ndarray
    new_country: np.ndarray
    new_lat: np.ndarray
    new_lon: np.ndarray
    new_postal: pa.Array
    new_city: pa.Array
    consent0: np.ndarray
    consent1: np.ndarray
    unsub_day: np.ndarray
    unsub_sec: np.ndarray
    bad_email: np.ndarray
    first_campaign_day: np.ndarray
    open_p: np.ndarray
    click_p: np.ndarray
    email: pa.Array
    gender: pa.Array
    birth_date: pa.Array
    age: np.ndarray
    use_age: np.ndarray
    # --- anonymous visitors (length V)
    v_start: np.ndarray
    v_end: np.ndarray
    v_eng: np.ndarray
    v_cat: np.ndarray
    v_device: np.ndarray
    v_store: np.ndarray
    # --- store customers (length M)
    sc_store: np.ndarray
    sc_p: np.ndarray
    # --- the randomised campaign (generator/campaigns.py); None = no campaign
    campaign_uplift: float | None = None

    def weekday_factor(self, day: int) -> float:
        """Activity multiplier of the weekday of day index ``day``."""
        return float(C.WEEKDAY_FACTOR[(self.start_day + day + 3) % 7])

    def key(self, tag: int, day: int, rows: np.ndarray) -> np.ndarray:
        """Unique 64-bit id keys: tag | day | row, salted by the seed."""
        base = (tag << 56) | ((day + 1024) << 32)
        return (np.asarray(rows, dtype=np.uint64) | np.uint64(base)) ^ np.uint64(self.salt)

    def activity(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Latent activity multiplier g of leads ``idx`` on day ``day`` (works for future days)."""
        x = (day - (self.days - 1)) / 45.0
        g = np.exp(np.clip(self.trend[idx] * x, -2.5, 1.2))
        z = (day - self.bump_center[idx]) / self.bump_width[idx]
        g *= self.bump_base[idx] + self.bump_amp[idx] * np.exp(-0.5 * z * z)
        age = day - self.created_day[idx]
        g *= 1.0 + 1.5 * np.exp(-np.maximum(age, 0) / 4.0) * (age >= 0)
        return g

    def consent_before(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Marketing consent of leads ``idx`` at the start of day ``day``."""
        updated = (self.update_day[idx] >= 0) & (self.update_day[idx] < day)
        return np.where(updated, self.consent1[idx], self.consent0[idx])

    def country_on(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Country of leads ``idx`` on day ``day`` (after a move, the new one)."""
        moved = (self.update_day[idx] >= 0) & (self.update_day[idx] <= day)
        return np.where(moved, self.new_country[idx], self.country[idx])


def _nearest_store(stores: Stores, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Index of the closest store (equirectangular distance)."""
    dlat = lat[:, None] - stores.lat[None, :]
    dlon = (lon[:, None] - stores.lon[None, :]) * np.cos(np.radians(lat))[:, None]
    return np.argmin(dlat * dlat + dlon * dlon, axis=1)


def _jitter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points within ``radius_km`` (rounded to 5 decimals)."""
    dist = radius_km * np.sqrt(rng.random(len(lat)))
    bearing = rng.uniform(0, 2 * np.pi, len(lat))
    new_lat = lat + dist / 111.0 * np.cos(bearing)
    new_lon = lon + dist / (111.0 * np.cos(np.radians(lat))) * np.sin(bearing)
    return np.round(new_lat, 5), np.round(new_lon, 5)


def _postal_strings(rng: np.random.Generator, country: np.ndarray, number: np.ndarray, city: np.ndarray) -> pa.Array:
    """Country-specific postal code strings (DE 10115, NL 1053 AB, PL 00-950, GB SW1A 1AA ...)."""
    n = len(country)
    codes = np.array(C.COUNTRY_CODES)[country]
    digits = np.array([C.COUNTRY_POSTAL_DIGITS[c] for c in C.COUNTRY_CODES])[country]
    num = pc.cast(pa.array(number.astype(np.int64)), pa.string())
    out = pc.utf8_lpad(num, 5, "0")
    out = pc.if_else(pa.array(digits == 4), pc.utf8_lpad(num, 4, "0"), out)
    letters = pa.array([a + b for a in "ABCDEFGHJKLMNPRSTVWXZ" for b in "ABCDEFGHJKLMNPRSTVWXZ"])
    pair = take(letters, rng.integers(0, len(letters), n))
    nl = pc.binary_join_element_wise(pc.utf8_lpad(num, 4, "0"), pair, " ")
    out = pc.if_else(pa.array(codes == "NL"), nl, out)
    p5 = pc.utf8_lpad(num, 5, "0")
    pl = pc.binary_join_element_wise(pc.utf8_slice_codeunits(p5, 0, 2), pc.utf8_slice_codeunits(p5, 2, 5), "-")
    out = pc.if_else(pa.array(codes == "PL"), pl, out)
    is_gb = codes == "GB"
    if is_gb.any():
        outward_list: list[str] = []
        start = np.zeros(len(C.CITIES), dtype=np.int64)
        count = np.ones(len(C.CITIES), dtype=np.int64)
        for i, row in enumerate(C.CITIES):
            start[i] = len(outward_list)
            codes_i = C.GB_OUTWARD.get(row[0], ("X1",))
            count[i] = len(codes_i)
            outward_list.extend(codes_i)
        outward = take(pa.array(outward_list), start[city] + rng.integers(0, 1 << 30, n) % count[city])
        inward = pc.binary_join_element_wise(pc.cast(pa.array(rng.integers(1, 10, n)), pa.string()), pair, "")
        gb = pc.binary_join_element_wise(outward, inward, " ")
        out = pc.if_else(pa.array(is_gb), gb, out)
    return out


def _place_leads(rng: np.random.Generator, stores: Stores, local: np.ndarray) -> dict:
    """Country, coordinates, postal code and city for every lead."""
    n = len(local)
    city_country = np.array([C.COUNTRY_CODES.index(c[1]) for c in C.CITIES])
    city_w = np.array([c[6] for c in C.CITIES])
    country = categorical(rng, C.COUNTRY_WEIGHTS, n)
    w_matrix = np.where(city_country[None, :] == np.arange(len(C.COUNTRY_CODES))[:, None], city_w[None, :], 0.0)
    city = categorical_rows(rng, w_matrix, country)
    lat, lon = _jitter(rng, np.array([c[2] for c in C.CITIES])[city], np.array([c[3] for c in C.CITIES])[city], 8.0)
    lo = np.array([c[4] for c in C.CITIES])[city]
    hi = np.array([c[5] for c in C.CITIES])[city]
    number = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    city_names = pa.array([c[0] for c in C.CITIES])
    city_str = take(city_names, city)
    # local-store personas live within ~15 km of one of the stores
    store = rng.integers(0, len(stores.ids), n)
    s_lat, s_lon = _jitter(rng, stores.lat[store], stores.lon[store], 15.0)
    lat = np.where(local, s_lat, lat)
    lon = np.where(local, s_lon, lon)
    country = np.where(local, stores.country[store], country)
    number = np.where(local, stores.postal[store] + rng.integers(0, 40, n), number)
    city = np.where(local, 0, city)
    city_str = pc.if_else(pa.array(local), take(pa.array(list(stores.cities)), store), city_str)
    postal = _postal_strings(rng, country, number, city)
    return {"country": country, "lat": lat, "lon": lon, "postal": postal, "city": city_str}


def _emails(rng: np.random.Generator, gender_code: np.ndarray, numbers: np.ndarray) -> pa.Array:
    """``first.last.<n>@example.{com,net,org}`` (unique through the lead number)."""
    n = len(numbers)
    first_f = rng.integers(0, len(C.FIRST_NAMES_F), n)
    first_m = rng.integers(0, len(C.FIRST_NAMES_M), n)
    use_m = np.where(gender_code == 1, True, np.where(gender_code == 0, False, rng.random(n) < 0.5))
    names = pa.array(list(C.FIRST_NAMES_F) + list(C.FIRST_NAMES_M))
    first = take(names, np.where(use_m, len(C.FIRST_NAMES_F) + first_m, first_f))
    last = take(pa.array(list(C.LAST_NAMES)), rng.integers(0, len(C.LAST_NAMES), n))
    domain = take(pa.array(["@" + d for d in C.EMAIL_DOMAINS]), rng.integers(0, len(C.EMAIL_DOMAINS), n))
    num = pc.cast(pa.array(numbers), pa.string())
    local = pc.binary_join_element_wise(first, last, num, ".")
    return pc.binary_join_element_wise(local, domain, "")


def _campaign_days(start_day: int, n_days: int) -> np.ndarray:
    """Day indices of newsletter sends (Tuesdays and Fridays)."""
    d = np.arange(n_days)
    return d[np.isin((start_day + d + 3) % 7, C.EMAIL_WEEKDAYS)]


def _next_campaign(campaigns: np.ndarray, after: np.ndarray) -> np.ndarray:
    """First campaign day >= ``after`` (NO_DAY if none)."""
    if len(campaigns) == 0:
        return np.full(len(after), NO_DAY, dtype=np.int64)
    pos = np.searchsorted(campaigns, after, side="left")
    ok = pos < len(campaigns)
    return np.where(ok, campaigns[np.minimum(pos, len(campaigns) - 1)], NO_DAY)


def _draw_lifecycle(rng: np.random.Generator, persona: np.ndarray, days: int) -> dict[str, np.ndarray]:
    """Creation time, acquisition channel and anonymous pre-signup browsing."""
    n = len(persona)
    pre_window = rng.random(n) < C.PRE_WINDOW_LEAD_SHARE
    created_day = np.where(
        pre_window, -rng.integers(1, C.PRE_WINDOW_MAX_DAYS + 1, n), rng.integers(0, days, n)
    ).astype(np.int64)
    created_slot = categorical(rng, C.SLOT_WEIGHTS, n)
    channel_w = np.tile(C.CHANNEL_WEIGHTS, (C.N_PERSONAS, 1))
    channel_w[C.PERSONA_LOCAL, C.CHANNEL_STORE] = 0.45
    channel_w[C.PERSONA_NEWSLETTER, C.CHANNELS.index("email")] = 0.35
    channel = categorical_rows(rng, channel_w, persona)
    web_signup = channel != C.CHANNEL_STORE
    pre_p = min(1.0, C.ANON_LEAD_SHARE / max(float(web_signup.mean()), 1e-9))
    return {
        "created_day": created_day,
        "created_sec": created_slot * C.SLOT_SECONDS + C.ANCHOR_MIN_OFFSET + rng.integers(0, 3_600, n),
        "file_day": np.maximum(created_day, 0),
        "channel": channel,
        "web_signup": web_signup,
        "has_pre": web_signup & (rng.random(n) < pre_p),
        "pre_start": created_day - rng.integers(1, 22, n),
    }


def _draw_latent(
    rng: np.random.Generator, persona: np.ndarray, created_day: np.ndarray, days: int, pp: PersonaLookup
) -> dict:
    """Latent propensity, activity curve (trend, bump) and first-purchase day."""
    n = len(persona)
    # one latent propensity z drives both browsing intensity and order hazard
    z = rng.standard_normal(n)
    eng = np.exp(0.6 * (0.85 * z + np.sqrt(1 - 0.85**2) * rng.standard_normal(n)) - 0.18)
    bump = pp("bump").astype(bool)
    sigma = pp("order_sigma")
    ft_day = np.where(created_day < 0, rng.integers(0, days, n), created_day + rng.geometric(1 / 8, n) - 1)
    return {
        "eng": eng,
        "trend": rng.normal(pp("trend_mu"), pp("trend_sd")),
        "bump_base": np.where(bump, 0.15, 1.0),
        "bump_amp": np.where(bump, 2.2, 0.0),
        "bump_center": rng.uniform(-10, days + 12, n),
        "bump_width": rng.uniform(2.5, 8.0, n),
        "p_order": pp("order_rate") * np.exp(sigma * z - sigma**2 / 2),
        "future_noise": rng.lognormal(-0.125, 0.5, n),
        "ft_day": np.where((persona == C.PERSONA_FIRST_TIME) & (rng.random(n) < 0.75), ft_day, NO_DAY),
    }


def _draw_interests(rng: np.random.Generator, catalogue: Catalogue, n: int) -> dict[str, np.ndarray]:
    """Favourite categories, focus product and device."""
    fav_cat = categorical(rng, C.CATEGORY_WEIGHTS, n)
    return {
        "fav_cat": fav_cat,
        "cat2": categorical(rng, C.CATEGORY_WEIGHTS, n),
        "focus_prod": catalogue.sample(rng, fav_cat),
        "device": categorical(rng, C.USER_AGENT_WEIGHTS, n),
    }


def _draw_updates(
    rng: np.random.Generator, stores: Stores, persona: np.ndarray, file_day: np.ndarray,
    home: dict, campaigns: np.ndarray, days: int, pp: PersonaLookup,
) -> dict:
    """Consent, e-mail quality and the one later profile update (move, opt-in, unsubscribe)."""
    n = len(persona)
    consent0 = rng.random(n) < pp("consent_share")
    can_update = file_day < days - 1
    span = np.maximum(days - 1 - file_day, 1)
    upd_draw = np.minimum(file_day + 1 + (rng.random(n) * span).astype(np.int64), days - 1)
    u = rng.random(n)
    moved = can_update & (u < 0.09)  # with opt-ins and unsubscribes ~15% of leads get an update row
    bad_email = rng.random(n) < pp("bad_email_share")
    unsub = can_update & consent0 & ~bad_email & (u >= 0.09) & (u < 0.10 + 3 * pp("unsub_share"))
    opt_in = can_update & ~consent0 & (u >= 0.90) & (u < 1.02)
    unsub_day = np.where(unsub, _next_campaign(campaigns, upd_draw), NO_DAY)
    unsub_day = np.where((unsub_day >= 0) & (unsub_day < days), unsub_day, NO_DAY)
    unsub = unsub_day != NO_DAY
    unsub_sec = rng.integers(10 * 3_600, 22 * 3_600, n)
    new = _place_leads(rng, stores, persona == C.PERSONA_LOCAL)
    moved_pa = pa.array(moved)
    return {
        "consent0": consent0,
        "consent1": np.where(unsub, False, np.where(opt_in, True, consent0)),
        "bad_email": bad_email,
        "unsub_day": unsub_day,
        "unsub_sec": unsub_sec,
        "update_day": np.where(moved | opt_in, upd_draw, np.where(unsub, unsub_day, NO_DAY)),
        "update_sec": np.where(unsub, unsub_sec + 5, rng.integers(0, 86_400, n)),
        "moved": moved,
        "new_country": np.where(moved, new["country"], home["country"]),
        "new_lat": np.where(moved, new["lat"], home["lat"]),
        "new_lon": np.where(moved, new["lon"], home["lon"]),
        "new_postal": pc.if_else(moved_pa, new["postal"], home["postal"]),
        "new_city": pc.if_else(moved_pa, new["city"], home["city"]),
    }


def _draw_demographics(
    rng: np.random.Generator, start_day: int, created_day: np.ndarray, file_day: np.ndarray, pp: PersonaLookup
) -> dict:
    """Gender, birth date / age, e-mail address and newsletter engagement."""
    n = len(created_day)
    gender_code = categorical(rng, np.array([0.47, 0.46, 0.02, 0.05]), n)
    age_at_signup = np.clip(rng.normal(38, 12, n), 18, 82)
    birth = start_day + created_day - (age_at_signup * 365.25 + rng.integers(0, 365, n)).astype(np.int64)
    return {
        "gender": take(pa.array(["f", "m", "d"]), np.minimum(gender_code, 2), gender_code < 3),
        "birth_date": format_dates(birth),
        "age": ((start_day + file_day - birth) / 365.25).astype(np.int64),
        "use_age": rng.random(n) < 0.10,
        "email": _emails(rng, gender_code, np.arange(1, n + 1)),
        "open_p": np.minimum(pp("open_rate") * rng.lognormal(-0.08, 0.4, n), 0.95),
        "click_p": np.minimum(pp("click_rate") * rng.lognormal(-0.08, 0.4, n), 0.9),
    }


def _draw_others(rng: np.random.Generator, stores: Stores, n: int, days: int) -> dict:
    """Anonymous visitors (never sign up) and orders-only store customers."""
    visitor_ratio = C.ANON_VISITOR_SHARE / (1 - C.ANON_VISITOR_SHARE)
    n_visitors = max(1, round(visitor_ratio * n * 1.65))  # ~60% of them show up in the window
    n_store = max(2, round(C.STORE_CUSTOMER_SHARE * n))
    v_start = rng.integers(-10, days, n_visitors)
    return {
        "n_visitors": n_visitors,
        "n_store_customers": n_store,
        "v_start": v_start,
        "v_end": v_start + rng.geometric(0.12, n_visitors),
        "v_eng": rng.lognormal(-0.125, 0.5, n_visitors),
        "v_cat": categorical(rng, C.CATEGORY_WEIGHTS, n_visitors),
        "v_device": categorical(rng, C.USER_AGENT_WEIGHTS, n_visitors),
        "v_store": rng.integers(0, len(stores.ids), n_visitors),
        "sc_store": rng.integers(0, len(stores.ids), n_store),
        "sc_p": 0.006 * rng.lognormal(-0.125, 0.5, n_store),
    }


def build_world(seed: int, n_leads: int, days: int, end_date: dt.date) -> World:
    """Draw the complete static world for the given arguments."""
    if n_leads < 1 or days < 1:
        raise ValueError("leads and days must be positive")
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, 1]))
    stores = load_stores()
    catalogue = build_catalogue(seed)
    start_day = date_to_day(end_date) - days + 1
    persona = categorical(rng, C.PERSONA_SHARES, n_leads)
    persona_table = {
        f: np.array([getattr(C.PROFILES[p], f) for p in range(C.N_PERSONAS)]) for f in C.Profile.__dataclass_fields__
    }

    def pp(attr: str) -> np.ndarray:
        return persona_table[attr][persona]

    life = _draw_lifecycle(rng, persona, days)
    latent = _draw_latent(rng, persona, life["created_day"], days, pp)
    interests = _draw_interests(rng, catalogue, n_leads)
    home = _place_leads(rng, stores, persona == C.PERSONA_LOCAL)
    campaigns = _campaign_days(start_day, days + C.TRUTH_DAYS)
    updates = _draw_updates(rng, stores, persona, life["file_day"], home, campaigns, days, pp)
    demo = _draw_demographics(rng, start_day, life["created_day"], life["file_day"], pp)
    others = _draw_others(rng, stores, n_leads, days)
    n_ids = n_leads + others["n_store_customers"]
    salt = int(np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, 99])).integers(0, 2**56))
    world = World(
        seed=seed,
        salt=salt,
        n_leads=n_leads,
        days=days,
        start_day=start_day,
        stores=stores,
        catalogue=catalogue,
        vocab=Vocabulary(catalogue, stores),
        campaign_days=campaigns,
        lead_ids=padded_ids("L", np.arange(1, n_ids + 1), max(6, len(str(n_ids)))),
        anon_ids=pa.array([], pa.string()),
        persona=persona,
        store=_nearest_store(stores, home["lat"], home["lon"]),
        first_campaign_day=_next_campaign(campaigns, life["created_day"] + 1),
        **life,
        **latent,
        **interests,
        **home,
        **updates,
        **demo,
        **others,
    )
    world.anon_ids = hex_ids("a", world.key(TAG_ANON, 0, np.arange(n_leads + world.n_visitors)))
    return world
