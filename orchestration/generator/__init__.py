"""Synthetic landing zone of an online outdoor-clothing shop (for the lead-scoring project).

Usage
-----
``python -m orchestration.generator --out DIR [--truth-out DIR] [--leads N] [--days D]
[--seed S] [--end-date YYYY-MM-DD] [--bad-row-share F] [--day-range START:STOP]
[--campaign-uplift U]``,
or ``main(argv)`` (used by ``leadscore generate``), or :func:`generate` from Python.
Days cover ``[end_date - days + 1, end_date]`` (default end date: yesterday, UTC);
day index 0 is the first day.  Output is byte-identical for identical arguments,
and ``day_range=(start, stop)`` writes exactly the files a full run would write for
those days (each day has its own random streams derived from ``(seed, day)``).

Layout (one file per entity and day; a day without rows writes no file)
-----------------------------------------------------------------------
``DIR/events/events_YYYY-MM-DD.parquet``  zstd Parquet, every column a string
``DIR/leads/leads_YYYY-MM-DD.csv.gz``     gzip CSV with header (strings quoted)
``DIR/orders/orders_YYYY-MM-DD.jsonl``    JSON lines
``DIR/campaign_sends/campaign_sends_YYYY-MM-DD.csv``  the weekly randomised campaign's
sends and held-out control leads (Tuesdays; ``campaigns``; ``campaign_uplift=None``: none)
``TRUTH/orders/orders_YYYY-MM-DD.jsonl``  the 30 days after ``end_date`` (valid rows only)

Contract
--------
events: ``event_id`` (``e`` + 16 hex), ``occurred_at``, ``lead_id``, ``anonymous_id``
(``a`` + 16 hex), ``session_id`` (``s`` + 16 hex), ``event_type``, ``page_url``,
``page_type``, ``product_id`` (5 digits), ``product_category``, ``search_query`` and an
extra ``user_agent`` column.  ``occurred_at`` is ``2026-11-01T10:03:05Z`` (~80%),
local Europe/Berlin time ``2026-11-01T11:03:05+01:00`` / ``+02:00`` (~12%, same
instant) or ``2026-11-01 10:03:05`` (~8%, UTC).  Formats vary per session.
``page_type`` is null on ~30% of web rows (derive it from ``page_url``: ``/`` home,
``/c/<cat>`` category, ``/p/<cat>/<id>`` product, ``/search?q=`` search, ``/cart``
cart, ``/checkout`` (also ``/checkout/confirmation``) checkout,
``/stores/<store_id>/opening-hours`` store_hours, ``/about``, ``/careers...``,
``/help/...`` support, ``/blog/...``, ``/account...`` account); landing URLs may
carry ``?utm_...`` parameters.  ``session_id`` is null for ~10% of sessions;
sessions of one user are >= 30 min apart and events within a session < 30 min, so
the 30-minute inactivity rule reproduces them.  Web sessions before signup carry
only ``anonymous_id``; the ``signup`` event carries both ids; later sessions carry
``lead_id`` and (60%) the anonymous id.  E-mail events (``email_open``,
``email_click``, ``email_bounce``, ``unsubscribe``) have a ``lead_id`` only, no
session, page fields null except ``page_url`` on clicks.  ~20% of anonymous ids
never sign up.  One ``search_query`` is ``'; drop table leads; --`` (valid data).

leads: ``lead_id`` (``L`` + zero-padded number, width >= 6), ``email``,
``birth_date`` (YYYY-MM-DD) or ``age`` (~10%, integer), ``gender`` (f/m/d/empty),
``country_code``, ``postal_code`` (string, country formats), ``city``, ``latitude``,
``longitude``, ``created_at``/``updated_at`` (``...Z``), ``marketing_consent``
(true/false), ``acquisition_channel``.  A lead's first row is in the file of its
creation day (leads created before the window, ~40%, are all in the first file);
~15% get one later row with the same ``lead_id`` and a later ``updated_at`` (moved,
consent given, or unsubscribed - the latter matches an ``unsubscribe`` event).

orders: ``order_id`` (``o`` + 16 hex), ``lead_id``, ``ordered_at``, ``amount`` (JSON
number, 2 decimals), ``currency`` (EUR; CHF for Swiss customers), ``status``
(completed/pending/cancelled/refunded; absent, null or "" on ~6% = completed),
``item_count``, ``updated_at``.  ~6% of orders come back in a later file (1-14 days)
with status cancelled/refunded and a later ``updated_at`` (a legitimate update).
~90% of orders have a ``purchase`` event of the same lead on the same day (its
timestamp is ``ordered_at`` + 2 s); the rest are store/phone orders.  ~2% of
orderers are store customers whose ``lead_id`` has no lead row.

Behaviour and truth
-------------------
Each lead has a persona (window shopper 25%, frequent visitor 10%, product
researcher 10%, cart abandoner 10%, first-time buyer 10%, repeat customer 10%,
local-store visitor 8%, newsletter reader 12%, dormant 5%), a latent purchase
propensity (which also drives browsing intensity), an activity curve (trend,
shopping "bump" for researchers/abandoners, post-signup honeymoon) and weekday /
time-of-day patterns.  Orders are drawn from propensity x activity; the truth
window continues the same curves and multiplies by a habit factor of the observed
past order count (1, 1.7, 3.2, 4, ...) and a noise term, so recency, cart
activity and past orders predict it imperfectly (simple rule scores reach an AUC
of ~0.73-0.76, a fitted model ~0.78-0.80, the latent oracle ~0.87; ~7% of leads
order in the 30 days).  Rows in a file are ordered by time (events by instant,
leads and orders by ``updated_at``) with the bad rows interleaved.

Bad rows (``bad_row_share``, default 1%)
----------------------------------------
Bad rows are extra rows; valid rows are identical for every share.  Each shows one
problem; non-re-delivery bad rows get fresh ids.  Kinds per entity:
events: unparseable_timestamp (``yesterday``, ``2026-13-45T99:00``, ...), missing_id
(null/"" event_id), missing_lead_and_anonymous_id, unknown_event_type
(``pageview_v2``, ``hover``, ``scroll_depth_75``), future_timestamp (``2099-01-01...``
or end_date + 30 days), exact_redelivery (byte-identical event from 1-2 days
earlier), conflicting_redelivery (same event_id, other event_type or timestamp).
leads: missing_id, unparseable_timestamp (updated_at, sometimes also created_at),
exact_redelivery, conflicting_redelivery (same lead_id and updated_at; consent
flipped, sometimes also another address).  orders: missing_id (order_id absent,
null or ""), missing_lead_and_anonymous_id (lead_id null or ""),
unparseable_timestamp, negative_amount, non_numeric_amount (``"12,5x"``, ``"abc"``,
``"n/a"``), unknown_status (``shipped_maybe``, ``on_hold?``), future_timestamp,
exact_redelivery and conflicting_redelivery (same order_id and updated_at, other
amount; from the previous 7 days).  Every kind is forced on two days so tiny runs
contain all of them (re-deliveries need >= 2 days).

The campaign (``campaigns``): every Tuesday ``weekly_newsletter`` goes to a quarter of
the mailable leads, 10% held out as control by the warehouse's hash; a treated lead
places one extra order with probability ``campaign_uplift`` (default 0.03) within 13
days, so the warehouse's uplift estimate can be checked against ``campaign_truth``.
The truth window's orders do not include campaign effects.

Modules: ``config`` (reference data, personas), ``world`` (static per-lead state),
``campaigns`` (sends and their effect), ``orders``, ``events`` (sessions + e-mail), ``leads``, ``badrows``, ``formatting``
(vectorised ids/timestamps), ``writers``, ``core`` (:func:`generate`), ``cli``.
"""

from .cli import main
from .core import GenerationSummary, default_end_date, generate

__all__ = ["GenerationSummary", "default_end_date", "generate", "main"]
