"""Static reference data and tuning knobs of the synthetic shop.

Everything here is plain, immutable data: the category catalogue, personas and
their behaviour parameters, page/URL vocabulary, search terms, cities and the
action -> (event_type, page_type) mapping used by the session simulator.
Stores are *not* defined here: they are read from ``seeds/reference/stores.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHOP_BASE_URL = "https://shop.example.com"

# --------------------------------------------------------------------------- time
SLOT_SECONDS = 10_800  # the day is split into 8 three-hour slots, one session per slot
N_SLOTS = 8
SESSION_START_SPREAD = 3_600  # random sessions start within the first hour of their slot
SESSION_MAX_DURATION = 5_000  # keeps >= 30 min of inactivity between sessions of one user
ANCHOR_MIN_OFFSET = 5_100  # anchored (signup/purchase) sessions end in [slot+5100, slot+8700)
# UTC diurnal weights of the slots 00-03, 03-06, ..., 21-24
SLOT_WEIGHTS = np.array([0.25, 0.1, 0.55, 1.0, 1.1, 1.2, 1.6, 1.25])
# Monday .. Sunday multiplier of web activity and orders
WEEKDAY_FACTOR = np.array([1.05, 0.97, 0.95, 0.97, 0.92, 0.88, 1.26])
EMAIL_WEEKDAYS = (1, 4)  # newsletters go out on Tuesdays and Fridays
EMAIL_SEND_SECOND = 8 * 3_600  # 08:00 UTC
TRUTH_DAYS = 30
PRE_WINDOW_MAX_DAYS = 730  # pre-period leads were created up to two years earlier
EVENT_REDELIVERY_MAX_LAG = 2  # events are re-delivered 1..2 days later
ORDER_REDELIVERY_MAX_LAG = 7
REFUND_MAX_LAG = 14

# --------------------------------------------------------------------------- catalogue
CATEGORIES = (
    "jackets",
    "shoes",
    "backpacks",
    "tents",
    "sleeping_bags",
    "climbing",
    "cycling",
    "running",
    "accessories",
    "kids",
)
CATEGORY_WEIGHTS = np.array([0.18, 0.16, 0.10, 0.06, 0.05, 0.07, 0.08, 0.11, 0.13, 0.06])
CATEGORY_MEDIAN_PRICE_EUR = np.array([189, 139, 99, 329, 179, 79, 69, 59, 24, 49], dtype=float)
PRODUCTS_PER_CATEGORY = 300
PRODUCT_ZIPF_EXPONENT = 1.05
CATEGORY_NOUNS = (
    ("rain jacket", "down jacket", "softshell jacket", "hardshell jacket"),
    ("hiking boot", "trail running shoe", "approach shoe", "winter boot"),
    ("daypack 22", "backpack 30", "trekking pack 55"),
    ("tent 2p", "tent 3p", "tunnel tent", "ultralight tent"),
    ("down sleeping bag", "synthetic sleeping bag", "sleeping mat"),
    ("climbing shoe", "harness", "rope 60m", "belay device"),
    ("bike jersey", "bike helmet", "cycling gloves"),
    ("running shirt", "running vest", "running tights"),
    ("merino socks", "beanie", "headlamp", "water bottle"),
    ("kids rain jacket", "kids hiking boot", "kids backpack"),
)
BRANDS = ("Bergmark", "Fjellvind", "Trailhaus", "Gipfelwerk", "Waldlauf", "Nebelhorn", "Kammweg", "Felsgrat")
MODELS = ("Pro", "Lite", "Storm", "Peak", "Trek", "Alpine", "Ultra", "Summit")

# --------------------------------------------------------------------------- searches
CATEGORY_QUERIES = (
    ("gore-tex jacket", "rain jacket women", "down jacket", "winterjacke herren", "softshell jacke"),
    ("trail running shoes size 42", "hiking boots", "wanderschuhe damen", "waterproof boots size 44", "schuhe größe 42"),
    ("backpack 30l", "daypack", "rucksack 40 liter", "hydration pack"),
    ("tent 2 person", "ultralight tent", "zelt 3 personen", "family tent"),
    ("sleeping bag -10", "down sleeping bag", "schlafsack", "sleeping mat"),
    ("climbing shoes", "harness", "chalk bag", "kletterseil 60m"),
    ("bike helmet", "cycling jersey", "fahrradhandschuhe", "bike lights"),
    ("running shorts", "running vest", "laufjacke", "gps watch"),
    ("merino socks", "beanie", "headlamp", "water bottle", "sunglasses"),
    ("kids rain jacket", "kinder wanderschuhe", "kids backpack", "kids sleeping bag"),
)
GENERIC_QUERIES = (
    "returns",
    "store opening hours",
    "gift card",
    "size guide",
    "shipping costs",
    "sale",
    "discount code",
)
# Valid (if hostile) user input; the project must treat it as data.
SQL_LIKE_QUERIES = ("'; drop table leads; --", "\" or 1=1 --")

# --------------------------------------------------------------------------- pages
UTM_SUFFIXES = (
    "?utm_source=google&utm_medium=cpc&utm_campaign=outdoor",
    "?utm_source=instagram&utm_medium=social",
    "?utm_source=partner-blog&utm_medium=referral",
)
EMAIL_UTM = "?utm_source=newsletter&utm_medium=email"
BLOG_SLUGS = (
    "how-to-choose-a-tent",
    "layering-guide",
    "best-hikes-in-the-alps",
    "trail-running-for-beginners",
    "caring-for-down-jackets",
    "packing-list-hut-to-hut",
    "bouldering-basics",
    "winter-camping-tips",
    "kids-on-the-trail",
    "bike-commuting-in-the-rain",
    "waterproof-ratings-explained",
    "leave-no-trace",
)
SUPPORT_PATHS = ("/help/returns", "/help/shipping", "/help/size-guide", "/help/contact", "/help/payment")
CAREERS_PATHS = ("/careers", "/careers/retail-jobs")
ACCOUNT_PATHS = ("/account", "/account/orders")

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
)
USER_AGENT_WEIGHTS = np.array([0.24, 0.12, 0.24, 0.2, 0.06, 0.06, 0.04, 0.04])

# --------------------------------------------------------------------------- actions
# A session is a sequence of "actions"; each maps to an event_type and a page_type.
(
    A_HOME,
    A_CATEGORY,
    A_PRODUCT,
    A_SEARCH,
    A_BLOG,
    A_SUPPORT,
    A_CAREERS,
    A_ABOUT,
    A_STORE,
    A_ACCOUNT,
    A_CART,
    A_ADD,
    A_REMOVE,
    A_CHECKOUT,
    A_PURCHASE,
    A_FORM_NEWSLETTER,
    A_FORM_SIGNUP,
    A_SIGNUP,
    A_LOGIN,
    A_EMAIL_OPEN,
    A_EMAIL_CLICK,
    A_EMAIL_BOUNCE,
    A_UNSUBSCRIBE,
) = range(23)

EVENT_TYPES = (
    "page_view",
    "product_view",
    "category_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "purchase",
    "email_open",
    "email_click",
    "email_bounce",
    "form_submit",
    "signup",
    "login",
    "unsubscribe",
)
PAGE_TYPES = (
    "home",
    "category",
    "product",
    "search",
    "cart",
    "checkout",
    "store_hours",
    "about",
    "careers",
    "support",
    "blog",
    "account",
)
_ACTION_EVENT = (
    "page_view", "category_view", "product_view", "search", "page_view", "page_view",
    "page_view", "page_view", "page_view", "page_view", "page_view", "add_to_cart",
    "remove_from_cart", "checkout_started", "purchase", "form_submit", "form_submit",
    "signup", "login", "email_open", "email_click", "email_bounce", "unsubscribe",
)
_ACTION_PAGE = (
    "home", "category", "product", "search", "blog", "support", "careers", "about",
    "store_hours", "account", "cart", "product", "cart", "checkout", "checkout",
    "account", "account", "account", "account", None, None, None, None,
)
ACTION_EVENT_TYPE = np.array([EVENT_TYPES.index(e) for e in _ACTION_EVENT], dtype=np.int8)
ACTION_PAGE_TYPE = np.array([-1 if p is None else PAGE_TYPES.index(p) for p in _ACTION_PAGE], dtype=np.int8)
PAGE_TYPE_NULL_SHARE = 0.30

# Session tails (fixed action sequences appended after the browsing body).
T_NONE, T_CART, T_CART_REMOVE, T_ABANDON, T_NEWSLETTER, T_PURCHASE, T_SIGNUP = range(7)
TAIL_ACTIONS = (
    (),
    (A_ADD,),
    (A_ADD, A_REMOVE),
    (A_ADD, A_CART, A_CHECKOUT),
    (A_FORM_NEWSLETTER,),
    (A_ADD, A_CART, A_CHECKOUT, A_PURCHASE),
    (A_FORM_SIGNUP, A_SIGNUP),
)
MAX_TAIL = max(len(t) for t in TAIL_ACTIONS)
TAIL_TABLE = np.full((len(TAIL_ACTIONS), MAX_TAIL), -1, dtype=np.int8)
for _i, _t in enumerate(TAIL_ACTIONS):
    TAIL_TABLE[_i, : len(_t)] = _t
TAIL_LENGTH = np.array([len(t) for t in TAIL_ACTIONS], dtype=np.int64)


# --------------------------------------------------------------------------- personas
@dataclass(frozen=True)
class Profile:
    """Behaviour of one persona (or anonymous profile) in the web shop.

    ``body`` weights are over actions A_HOME..A_CART; ``tails`` are the
    probabilities of the optional tails (cart, cart+remove, abandoned checkout,
    newsletter form) of a non-purchase session.
    """

    name: str
    share: float
    session_rate: float
    body_mean: float
    body: tuple[float, ...]
    tails: tuple[float, float, float, float]
    focus_share: float  # share of product views that hit the session's focus product
    trend_mu: float
    trend_sd: float
    bump: bool
    order_rate: float
    order_sigma: float
    past_order_factor: float
    web_order_share: float
    open_rate: float
    click_rate: float
    unsub_share: float
    bad_email_share: float
    consent_share: float
    future_factor: float


#                 HOME  CAT   PROD  SRCH  BLOG  SUPP  CAREER ABOUT STORE ACCT  CART
PROFILES: tuple[Profile, ...] = (
    Profile("window_shopper", 0.25, 0.07, 2.4, (0.36, 0.36, 0.05, 0.05, 0.08, 0.03, 0.01, 0.02, 0.02, 0.0, 0.02),
            (0.01, 0.0, 0.003, 0.003), 0.1, -0.2, 0.5, False, 0.00035, 0.6, 1.0, 0.95, 0.12, 0.12, 0.02, 0.01, 0.55, 0.7),
    Profile("frequent_visitor", 0.10, 0.42, 6.0, (0.12, 0.52, 0.05, 0.10, 0.10, 0.02, 0.0, 0.02, 0.02, 0.04, 0.01),
            (0.02, 0.02, 0.01, 0.01), 0.75, 0.0, 0.4, False, 0.0012, 0.6, 1.0, 0.95, 0.22, 0.2, 0.01, 0.01, 0.65, 0.7),
    Profile("product_researcher", 0.10, 0.20, 5.0, (0.08, 0.12, 0.50, 0.20, 0.03, 0.03, 0.0, 0.0, 0.0, 0.02, 0.02),
            (0.05, 0.01, 0.04, 0.0), 0.85, 0.0, 0.3, True, 0.0065, 0.5, 0.7, 0.95, 0.15, 0.2, 0.01, 0.01, 0.6, 1.8),
    Profile("cart_abandoner", 0.10, 0.20, 5.0, (0.10, 0.22, 0.40, 0.12, 0.02, 0.04, 0.0, 0.0, 0.0, 0.03, 0.07),
            (0.15, 0.05, 0.35, 0.0), 0.45, 0.0, 0.3, True, 0.0055, 0.5, 0.15, 0.95, 0.15, 0.2, 0.01, 0.01, 0.6, 1.8),
    Profile("first_time_buyer", 0.10, 0.09, 4.0, (0.15, 0.28, 0.35, 0.12, 0.03, 0.03, 0.0, 0.0, 0.0, 0.02, 0.02),
            (0.05, 0.01, 0.05, 0.01), 0.25, -0.3, 0.5, False, 0.0016, 0.6, 1.0, 0.95, 0.18, 0.18, 0.01, 0.01, 0.6, 1.0),
    Profile("repeat_customer", 0.10, 0.22, 5.0, (0.12, 0.25, 0.38, 0.12, 0.03, 0.03, 0.0, 0.0, 0.0, 0.05, 0.02),
            (0.08, 0.03, 0.05, 0.0), 0.25, 0.0, 0.45, False, 0.028, 0.5, 1.0, 0.95, 0.3, 0.25, 0.005, 0.005, 0.7, 0.15),
    Profile("local_store_visitor", 0.08, 0.13, 3.2, (0.15, 0.20, 0.20, 0.08, 0.02, 0.02, 0.0, 0.02, 0.28, 0.02, 0.01),
            (0.03, 0.01, 0.02, 0.01), 0.2, 0.0, 0.45, False, 0.0035, 0.6, 1.0, 0.62, 0.2, 0.18, 0.01, 0.01, 0.6, 0.7),
    Profile("newsletter_reader", 0.12, 0.03, 2.6, (0.15, 0.20, 0.15, 0.05, 0.40, 0.02, 0.0, 0.02, 0.0, 0.01, 0.0),
            (0.02, 0.0, 0.01, 0.03), 0.2, 0.0, 0.3, False, 0.0011, 0.6, 1.0, 0.95, 0.55, 0.35, 0.01, 0.005, 1.0, 0.6),
    Profile("dormant", 0.05, 0.004, 1.6, (0.30, 0.10, 0.03, 0.05, 0.05, 0.25, 0.15, 0.07, 0.0, 0.0, 0.0),
            (0.0, 0.0, 0.0, 0.0), 0.1, -0.5, 0.3, False, 0.0, 0.5, 1.0, 0.95, 0.02, 0.05, 0.06, 0.25, 0.4, 0.1),
    # anonymous profiles (not lead personas)
    Profile("pre_signup_anonymous", 0.0, 0.22, 3.0, (0.25, 0.33, 0.25, 0.10, 0.03, 0.02, 0.0, 0.01, 0.01, 0.0, 0.0),
            (0.03, 0.01, 0.01, 0.02), 0.3, 0.0, 0.0, False, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    Profile("anonymous_visitor", 0.0, 0.15, 2.5, (0.35, 0.30, 0.15, 0.08, 0.05, 0.03, 0.02, 0.01, 0.01, 0.0, 0.0),
            (0.02, 0.005, 0.01, 0.01), 0.2, 0.0, 0.0, False, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
)
N_PERSONAS = 9
P_PRE_SIGNUP = 9
P_VISITOR = 10
PERSONA_NAMES = tuple(p.name for p in PROFILES[:N_PERSONAS])
PERSONA_SHARES = np.array([p.share for p in PROFILES[:N_PERSONAS]])
(PERSONA_WINDOW, PERSONA_FREQUENT, PERSONA_RESEARCHER, PERSONA_ABANDONER, PERSONA_FIRST_TIME,
 PERSONA_REPEAT, PERSONA_LOCAL, PERSONA_NEWSLETTER, PERSONA_DORMANT) = range(N_PERSONAS)

# --------------------------------------------------------------------------- leads
CHANNELS = ("organic", "paid_search", "social", "email", "referral", "store")
CHANNEL_STORE = 5
CHANNEL_WEIGHTS = np.array([0.36, 0.2, 0.15, 0.09, 0.08, 0.12])
ANON_LEAD_SHARE = 0.60  # leads with anonymous browsing before their signup
PRE_WINDOW_LEAD_SHARE = 0.40
ANON_VISITOR_SHARE = 0.20  # share of anonymous ids that never sign up
STORE_CUSTOMER_SHARE = 0.012  # orders-only customers (no lead profile row)
SESSION_ID_NULL_SHARE = 0.10
POST_SIGNUP_COOKIE_SHARE = 0.60
FIRST_NAMES_F = ("anna", "lena", "marie", "sophie", "laura", "julia", "emma", "mia", "sarah", "lisa",
                 "eva", "claire", "fleur", "sanne", "chiara", "zofia", "alice", "nina", "lea", "hannah")
FIRST_NAMES_M = ("lukas", "jonas", "felix", "max", "paul", "leon", "tim", "jan", "david", "thomas",
                 "daan", "bram", "luca", "pierre", "tomasz", "james", "noah", "elias", "simon", "florian")
LAST_NAMES = ("mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "hofmann",
              "koch", "richter", "wolf", "huber", "gruber", "steiner", "keller", "brunner", "de.vries",
              "jansen", "bakker", "visser", "martin", "dubois", "peeters", "nowak", "smith", "rossi",
              "bauer", "frei", "moser")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

COUNTRY_CODES = ("DE", "AT", "CH", "NL", "FR", "BE", "PL", "GB", "US", "IT")
COUNTRY_WEIGHTS = np.array([0.45, 0.11, 0.11, 0.13, 0.04, 0.04, 0.03, 0.03, 0.02, 0.04])
# postal formatting: digits, or special "NL"/"PL"/"GB"
COUNTRY_POSTAL_DIGITS = {"DE": 5, "AT": 4, "CH": 4, "NL": 4, "FR": 5, "BE": 4, "PL": 5, "GB": 0, "US": 5, "IT": 5}

# (city, country, lat, lon, postal_lo, postal_hi, weight); GB uses outward codes instead of numbers
CITIES: tuple[tuple[str, str, float, float, int, int, float], ...] = (
    ("Berlin", "DE", 52.520, 13.405, 10115, 14199, 3.6),
    ("Hamburg", "DE", 53.551, 9.994, 20095, 22769, 1.8),
    ("München", "DE", 48.137, 11.575, 80331, 81929, 1.5),
    ("Köln", "DE", 50.938, 6.960, 50667, 51149, 1.1),
    ("Frankfurt am Main", "DE", 50.111, 8.682, 60306, 60599, 0.75),
    ("Stuttgart", "DE", 48.776, 9.183, 70173, 70629, 0.63),
    ("Düsseldorf", "DE", 51.227, 6.774, 40210, 40629, 0.62),
    ("Leipzig", "DE", 51.340, 12.375, 4103, 4357, 0.6),
    ("Dresden", "DE", 51.050, 13.738, 1067, 1328, 0.55),
    ("Hannover", "DE", 52.375, 9.732, 30159, 30669, 0.53),
    ("Nürnberg", "DE", 49.452, 11.077, 90402, 90491, 0.52),
    ("Bremen", "DE", 53.079, 8.802, 28195, 28779, 0.56),
    ("Freiburg im Breisgau", "DE", 47.999, 7.842, 79098, 79117, 0.23),
    ("Münster", "DE", 51.961, 7.626, 48143, 48167, 0.31),
    ("Garmisch-Partenkirchen", "DE", 47.492, 11.095, 82467, 82467, 0.03),
    ("Wien", "AT", 48.208, 16.373, 1010, 1230, 1.9),
    ("Graz", "AT", 47.071, 15.439, 8010, 8063, 0.29),
    ("Linz", "AT", 48.306, 14.286, 4020, 4040, 0.2),
    ("Salzburg", "AT", 47.809, 13.055, 5020, 5026, 0.15),
    ("Innsbruck", "AT", 47.269, 11.404, 6020, 6080, 0.13),
    ("Zürich", "CH", 47.377, 8.541, 8001, 8099, 0.42),
    ("Genève", "CH", 46.204, 6.143, 1201, 1209, 0.2),
    ("Basel", "CH", 47.560, 7.589, 4001, 4059, 0.17),
    ("Bern", "CH", 46.948, 7.447, 3001, 3027, 0.13),
    ("Luzern", "CH", 47.050, 8.309, 6003, 6015, 0.08),
    ("Chur", "CH", 46.850, 9.532, 7000, 7000, 0.04),
    ("Amsterdam", "NL", 52.370, 4.895, 1011, 1109, 0.87),
    ("Rotterdam", "NL", 51.924, 4.478, 3011, 3089, 0.65),
    ("Den Haag", "NL", 52.070, 4.300, 2491, 2597, 0.55),
    ("Utrecht", "NL", 52.091, 5.122, 3511, 3585, 0.36),
    ("Eindhoven", "NL", 51.441, 5.470, 5611, 5658, 0.23),
    ("Groningen", "NL", 53.219, 6.567, 9711, 9747, 0.23),
    ("Paris", "FR", 48.857, 2.352, 75001, 75020, 2.1),
    ("Lyon", "FR", 45.764, 4.836, 69001, 69009, 0.5),
    ("Strasbourg", "FR", 48.573, 7.752, 67000, 67200, 0.28),
    ("Grenoble", "FR", 45.188, 5.724, 38000, 38100, 0.16),
    ("Bruxelles", "BE", 50.850, 4.352, 1000, 1210, 1.2),
    ("Antwerpen", "BE", 51.219, 4.402, 2000, 2660, 0.5),
    ("Gent", "BE", 51.054, 3.717, 9000, 9052, 0.26),
    ("Warszawa", "PL", 52.230, 21.012, 1, 4999, 1.8),
    ("Kraków", "PL", 50.065, 19.945, 30001, 31999, 0.8),
    ("Wrocław", "PL", 51.108, 17.039, 50001, 54999, 0.64),
    ("London", "GB", 51.507, -0.128, 0, 0, 9.0),
    ("Manchester", "GB", 53.481, -2.243, 0, 0, 0.55),
    ("Edinburgh", "GB", 55.953, -3.189, 0, 0, 0.5),
    ("New York", "US", 40.713, -74.006, 10001, 10282, 8.0),
    ("Denver", "US", 39.739, -104.990, 80202, 80239, 0.7),
    ("Seattle", "US", 47.606, -122.332, 98101, 98199, 0.75),
    ("Milano", "IT", 45.464, 9.190, 20121, 20162, 1.4),
    ("Torino", "IT", 45.070, 7.687, 10121, 10156, 0.85),
    ("Bolzano", "IT", 46.498, 11.355, 39100, 39100, 0.1),
)
GB_OUTWARD = {
    "London": ("SW1A", "E1", "N1", "SE1", "W1T", "NW1", "EC1V"),
    "Manchester": ("M1", "M4", "M14"),
    "Edinburgh": ("EH1", "EH3", "EH6"),
}

# --------------------------------------------------------------------------- bad rows
EVENT_BAD_KINDS = (
    "unparseable_timestamp",
    "missing_id",
    "missing_lead_and_anonymous_id",
    "unknown_event_type",
    "future_timestamp",
    "exact_redelivery",
    "conflicting_redelivery",
)
LEAD_BAD_KINDS = ("missing_id", "unparseable_timestamp", "exact_redelivery", "conflicting_redelivery")
ORDER_BAD_KINDS = (
    "missing_id",
    "missing_lead_and_anonymous_id",
    "unparseable_timestamp",
    "negative_amount",
    "non_numeric_amount",
    "unknown_status",
    "future_timestamp",
    "exact_redelivery",
    "conflicting_redelivery",
)
BAD_KIND_NAMES = (
    "unparseable_timestamp",
    "missing_id",
    "missing_lead_and_anonymous_id",
    "unknown_event_type",
    "future_timestamp",
    "negative_amount",
    "non_numeric_amount",
    "unknown_status",
    "exact_redelivery",
    "conflicting_redelivery",
)
UNPARSEABLE_TIMESTAMPS = ("yesterday", "{year}-13-45T99:00", "31.02.{year} 25:61", "not a timestamp")
UNKNOWN_EVENT_TYPES = ("pageview_v2", "hover", "scroll_depth_75")
NON_NUMERIC_AMOUNTS = ("12,5x", "abc", "n/a")
UNKNOWN_STATUSES = ("shipped_maybe", "on_hold?")
FAR_FUTURE_TIMESTAMP = "2099-01-01T00:00:00Z"
BAD_FORCED_DAYS_PER_KIND = 2  # guarantees >= a few rows of every kind in tiny runs
