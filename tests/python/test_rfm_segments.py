"""RFM segments mean what their names say, on a shop of any size (issue: quintiles among
buyers made a lone buyer "Lost" and left segments unreachable)."""

from __future__ import annotations

import datetime as dt

import pytest

from orchestration.config import PROJECT_ROOT
from warehouse_helpers import build_warehouse, make_settings, query

AS_OF = dt.datetime(2026, 11, 1)

#: One customer per segment of rules/rfm_segments.csv: (purchases, days since the last one).
#: Purchases are 7 days apart; default bands (rules/rfm_bands.csv, rfm_recency_basis days).
CUSTOMERS = {
    "Champions": (4, 10),
    "Loyal Customers": (3, 90),
    "Can't Lose Them": (6, 200),
    "At Risk": (3, 200),
    "Potential Loyalists": (2, 10),
    "New Customers": (1, 5),
    "Promising": (1, 45),
    "Need Attention": (2, 90),
    "About to Sleep": (1, 90),
    "Hibernating": (1, 180),
    "Lost": (1, 300),
}
AT_RISK = {"Can't Lose Them", "At Risk", "About to Sleep", "Hibernating", "Lost"}


def _lead_id(segment: str) -> str:
    return "lead-" + segment.lower().replace(" ", "-").replace("'", "")


def _write_orders(landing, segments) -> None:
    rows = ["order_id,lead_id,ordered_at,amount,currency,status"]
    for segment in segments:
        purchases, days_since_last = CUSTOMERS[segment]
        for n in range(purchases):
            at = AS_OF - dt.timedelta(days=days_since_last + 7 * n, hours=3)
            rows.append(f"{_lead_id(segment)}-{n},{_lead_id(segment)},{at:%Y-%m-%dT%H:%M:%SZ},40.00,EUR,completed")
    (landing / "orders").mkdir(parents=True)
    (landing / "orders" / "orders.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _segments(settings) -> dict[str, tuple[str, str]]:
    mart = query(settings, "select lead_id, rfm_segment, recommended_action from marts.lead_scores")
    return {row.lead_id: (row.rfm_segment, row.recommended_action) for row in mart.itertuples()}


def test_every_segment_is_assigned_to_the_customer_written_for_it(tmp_path):
    seed = PROJECT_ROOT / "seeds" / "rules" / "rfm_segments.csv"
    seeded = {line.split(",")[0] for line in seed.read_text(encoding="utf-8").splitlines()[1:] if line}
    assert seeded == set(CUSTOMERS), "every segment of the seed has a customer written for it"

    settings = make_settings(tmp_path)
    _write_orders(settings.landing_dir, CUSTOMERS)
    build_warehouse(settings, AS_OF.strftime("%Y-%m-%d"))
    got = _segments(settings)
    assert {lead: segment for lead, (segment, _) in got.items()} == {
        _lead_id(segment): segment for segment in CUSTOMERS
    }
    # a customer who bought 5 or 10 days ago is never sent a win-back offer
    for segment in CUSTOMERS:
        action = got[_lead_id(segment)][1]
        assert (action == "win_back_offer") <= (segment in AT_RISK), (segment, action)


@pytest.mark.parametrize("segments", [["New Customers"], ["Lost", "Champions", "Promising"]])
def test_a_shop_with_few_buyers_gets_the_same_segments(tmp_path, segments):
    settings = make_settings(tmp_path)
    _write_orders(settings.landing_dir, segments)
    build_warehouse(settings, AS_OF.strftime("%Y-%m-%d"))
    assert {lead: segment for lead, (segment, _) in _segments(settings).items()} == {
        _lead_id(segment): segment for segment in segments
    }
