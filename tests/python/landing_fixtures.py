"""Hand-made landing files with one bad row of every quarantine kind (and good rows)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

EVENT_HEADER = (
    "event_id,occurred_at,lead_id,anonymous_id,session_id,event_type,page_url,page_type,"
    "product_id,product_category,search_query,user_agent"
)

#: (file, row number in file, entity, expected reason)
EXPECTED_QUARANTINE: list[tuple[str, int, str, str]] = [
    ("events/events_2026-10-01.csv", 4, "events", "unparseable_timestamp"),
    ("events/events_2026-10-01.csv", 5, "events", "missing_id"),
    ("events/events_2026-10-01.csv", 6, "events", "missing_lead_and_anonymous_id"),
    ("events/events_2026-10-01.csv", 7, "events", "unknown_event_type"),
    ("events/events_2026-10-01.csv", 8, "events", "future_timestamp"),
    ("events/events_2026-10-02.csv.gz", 1, "events", "exact_redelivery"),
    ("events/events_2026-10-02.csv.gz", 2, "events", "conflicting_redelivery"),
    ("leads/leads_2026-10-01.jsonl", 3, "leads", "missing_id"),
    ("leads/leads_2026-10-01.jsonl", 4, "leads", "unparseable_timestamp"),
    ("leads/leads_2026-10-01.jsonl", 5, "leads", "future_timestamp"),
    ("leads/leads_2026-10-01.jsonl", 1, "leads", "conflicting_redelivery"),
    ("leads/leads_2026-10-02.jsonl", 1, "leads", "exact_redelivery"),
    ("orders/orders_2026-10-01.jsonl", 2, "orders", "negative_amount"),
    ("orders/orders_2026-10-01.jsonl", 3, "orders", "non_numeric_amount"),
    ("orders/orders_2026-10-01.jsonl", 4, "orders", "unknown_status"),
    ("orders/orders_2026-10-01.jsonl", 5, "orders", "missing_id"),
    ("orders/orders_2026-10-01.jsonl", 6, "orders", "missing_lead_id"),
    ("orders/orders_2026-10-01.jsonl", 7, "orders", "unknown_currency"),
    ("orders/orders_2026-10-01.jsonl", 8, "orders", "unparseable_timestamp"),
    ("orders/orders_2026-10-01.jsonl", 9, "orders", "future_timestamp"),
    ("orders/orders_2026-10-01.jsonl", 10, "orders", "conflicting_redelivery"),
    ("orders/orders_2026-10-01.jsonl", 11, "orders", "future_timestamp"),
    ("orders/orders_2026-10-02.jsonl", 1, "orders", "exact_redelivery"),
    ("campaign_sends/sends_2026-10-01.csv", 3, "campaign_sends", "missing_id"),
    ("campaign_sends/sends_2026-10-01.csv", 4, "campaign_sends", "unparseable_timestamp"),
    ("campaign_sends/sends_2026-10-01.csv", 5, "campaign_sends", "unknown_channel"),
    ("campaign_sends/sends_2026-10-01.csv", 6, "campaign_sends", "unparseable_flag"),
    ("campaign_sends/sends_2026-10-01.csv", 7, "campaign_sends", "exact_redelivery"),
]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_bad_landing(landing: Path) -> None:
    """Every quarantine reason once, good rows around them, and SQL-looking text as data."""
    (landing / "events").mkdir(parents=True, exist_ok=True)
    (landing / "events" / "events_2026-10-01.csv").write_text(
        "\n".join(
            [
                EVENT_HEADER,
                "e1,2026-10-01T10:00:00Z,,a1,s1,page_view,https://shop.example.com/,,,,,ua",
                "e2,2026-10-01T10:01:00+02:00,,a1,s1,product_view,https://shop.example.com/p/tents/9,,9,tents,,ua",
                "e3,2026-10-01 10:05:00,L1,a1,s1,signup,https://shop.example.com/account/new,,,,,ua",
                "e4,yesterday,L1,,,page_view,/,,,,,ua",
                ",2026-10-01T10:00:00Z,L1,,,page_view,/,,,,,ua",
                "e5,2026-10-01T10:00:00Z,,,,page_view,/,,,,,ua",
                "e6,2026-10-01T10:00:00Z,L1,,,hover,/,,,,,ua",
                "e7,2099-01-01T10:00:00Z,L1,,,page_view,/,,,,,ua",
                "e8,2026-10-01T11:00:00Z,L1,,s2,search,/search?q=x,,,,\"'; drop table landing.events; --\",ua",
            ]
        )
        + "\n"
    )
    with gzip.open(landing / "events" / "events_2026-10-02.csv.gz", "wt") as handle:
        handle.write(
            "\n".join(
                [
                    EVENT_HEADER.rsplit(",", 1)[0],  # no user_agent column in this file
                    "e1,2026-10-01T10:00:00Z,,a1,s1,page_view,https://shop.example.com/,,,,",
                    "e2,2026-10-01T10:02:00Z,,a1,s1,product_view,https://shop.example.com/p/tents/9,,9,tents,",
                    "e9,2026-10-02T09:00:00Z,L2,,,page_view,https://shop.example.com/stores/berlin-mitte/opening-hours,,,,",
                ]
            )
            + "\n"
        )
    lead = {
        "lead_id": "L1", "email": "ada@example.com", "birth_date": "1990-05-01", "gender": "f",
        "country_code": "DE", "postal_code": "10115", "city": "Berlin", "latitude": 52.53,
        "longitude": 13.38, "created_at": "2026-09-01T00:00:00Z", "updated_at": "2026-09-01T00:00:00Z",
        "marketing_consent": "true", "acquisition_channel": "organic",
    }
    _jsonl(
        landing / "leads" / "leads_2026-10-01.jsonl",
        [
            lead,
            {**lead, "lead_id": "L2", "email": "bob@example.com", "age": 41, "birth_date": None},
            {**lead, "lead_id": None},
            {**lead, "lead_id": "L3", "created_at": "not a date"},
            {**lead, "lead_id": "L4", "created_at": "2099-01-01T00:00:00Z", "updated_at": None},
        ],
    )
    _jsonl(
        landing / "leads" / "leads_2026-10-02.jsonl",
        [lead, {**lead, "city": "Hamburg", "postal_code": "20095"}],
    )
    order = {"order_id": "o1", "lead_id": "L1", "ordered_at": "2026-10-01T12:00:00Z", "amount": 99.5,
             "currency": "EUR", "status": "completed", "item_count": 2,
             "updated_at": "2026-10-01T12:00:00Z"}
    _jsonl(
        landing / "orders" / "orders_2026-10-01.jsonl",
        [
            order,
            {**order, "order_id": "o2", "amount": -5},
            {**order, "order_id": "o3", "amount": "12,5x"},
            {**order, "order_id": "o4", "status": "shipped_maybe"},
            {**order, "order_id": None},
            {**order, "order_id": "o5", "lead_id": None},
            {**order, "order_id": "o6", "currency": "XTS"},
            {**order, "order_id": "o7", "ordered_at": "32/13/2026", "updated_at": None},
            {**order, "order_id": "o8", "ordered_at": "2099-01-01T00:00:00Z", "updated_at": None},
            {**order, "order_id": "o9", "amount": 10, "currency": "CHF", "updated_at": None},
            # placed in 2099 although its update is stamped in the past: still impossible
            {**order, "order_id": "o10", "ordered_at": "2099-01-01T00:00:00Z"},
        ],
    )
    _jsonl(
        landing / "orders" / "orders_2026-10-02.jsonl",
        [
            order,
            {**order, "order_id": "o9", "amount": 11, "currency": "CHF", "updated_at": None},
            {**order, "status": "refunded", "updated_at": "2026-10-02T08:00:00Z"},
        ],
    )
    (landing / "campaign_sends").mkdir(parents=True, exist_ok=True)
    (landing / "campaign_sends" / "sends_2026-10-01.csv").write_text(
        "lead_id,campaign_id,sent_at,channel,is_control\n"
        "L1,weekly_newsletter,2026-10-01T09:00:00Z,email,false\n"
        "L2,weekly_newsletter,2026-10-01T09:00:00Z,email,true\n"
        "L1,,2026-10-01T09:00:00Z,email,false\n"
        "L1,weekly_newsletter,yesterday,email,false\n"
        "L1,weekly_newsletter,2026-10-01T09:00:00Z,fax,false\n"
        "L1,weekly_newsletter,2026-10-01T09:00:00Z,email,maybe\n"
        "L1,weekly_newsletter,2026-10-01T09:00:00Z,email,false\n",
        encoding="utf-8",
    )
