"""Campaign sends with a known effect: the demo shop's randomised e-mail campaign.

Once a week (Tuesdays, 09:00 UTC) the shop sends its campaign ``CAMPAIGN_ID`` to a quarter
of its mailable leads (signed up before the day, marketing consent, not unsubscribed, no
bounced address): lead number ``i`` is due every fourth week (``i % 4``), so one lead's
horizons never overlap. ``CONTROL_SHARE`` of each audience is held out, chosen exactly as
the warehouse does (md5 of ``campaign_id/lead_id``, first 8 hex digits / 2^32 below the
share): those leads are written with ``is_control = true`` and are not sent.

The effect: a treated lead places one extra order (status completed, never refunded) with
probability ``uplift`` on a day 1 to ``HORIZON_DAYS - 1`` days after the send, on top of
whatever it would have bought anyway. Its conversion probability rises from p0 to
p0 + uplift x (1 - p0). :func:`campaign_truth` measures the realised effect on the treated
(share converted with the campaign minus share that would have converted without it),
which the warehouse's estimate (marts.campaign_results) is tested against.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .formatting import format_timestamps, take
from .world import NO_DAY, World, day_rng

CAMPAIGN_ID = "weekly_newsletter"
CONTROL_SHARE = 0.10
HORIZON_DAYS = 14  # the dbt var campaign_horizon_days
DEFAULT_UPLIFT = 0.03
SEND_WEEKDAY = 1  # Tuesday ((epoch day + 3) % 7, Monday = 0)
SEND_SECOND = 9 * 3_600
WAVES = 4  # a lead is due every fourth week
STREAM_CAMPAIGN = 7


def control_unit(campaign_id: str, lead_id: str) -> float:
    """The warehouse's stable hash in [0, 1) (macros/cross_db.sql stable_unit_interval)."""
    return int(hashlib.md5(f"{campaign_id}/{lead_id}".encode()).hexdigest()[:8], 16) / 2**32


@dataclass
class Sends:
    """One send day's audience (arrays of equal length)."""

    day: int
    lead: np.ndarray  # lead index
    is_control: np.ndarray
    induced: np.ndarray  # treated and placing an extra order because of the campaign
    offset: np.ndarray  # days after the send of that order (1 .. HORIZON_DAYS - 1)


def is_send_day(world: World, day: int) -> bool:
    return day >= 0 and (world.start_day + day + 3) % 7 == SEND_WEEKDAY


def sends_for_day(world: World, day: int) -> Sends | None:
    """The campaign's audience of ``day`` (None when no send that day)."""
    if world.campaign_uplift is None or not is_send_day(world, day):
        return None
    rng = day_rng(world.seed, day, STREAM_CAMPAIGN)
    idx = np.flatnonzero(world.created_day[: world.n_leads] < day)
    mailable = (
        world.consent_before(idx, day)
        & ~((world.unsub_day[idx] != NO_DAY) & (world.unsub_day[idx] < day))
        & ~world.bad_email[idx]
    )
    wave = ((world.start_day + day) // 7) % WAVES
    lead = idx[mailable & (idx % WAVES == wave)]
    is_control = _control_mask(world)[lead]
    n = len(lead)
    induced = ~is_control & (rng.random(n) < world.campaign_uplift)
    offset = rng.integers(1, HORIZON_DAYS, n)
    return Sends(day, lead, is_control, induced, offset)


def _control_mask(world: World) -> np.ndarray:
    """Per lead index: in the campaign's control group (computed once per world)."""
    cached = getattr(world, "_campaign_control", None)
    if cached is None:
        ids = world.lead_ids.slice(0, world.n_leads).to_pylist()
        cached = np.array([control_unit(CAMPAIGN_ID, i) < CONTROL_SHARE for i in ids], dtype=bool)
        world._campaign_control = cached  # type: ignore[attr-defined]
    return cached


def induced_leads(world: World, day: int) -> np.ndarray:
    """Leads whose campaign-induced order falls on ``day``."""
    out = [np.zeros(0, dtype=np.int64)]
    for send_day in range(day - HORIZON_DAYS + 1, day):
        sends = sends_for_day(world, send_day)
        if sends is not None:
            out.append(sends.lead[sends.induced & (sends.day + sends.offset == day)])
    return np.concatenate(out)


def send_rows(world: World, sends: Sends) -> pa.Table:
    """Landing rows of one send day (CSV)."""
    n = len(sends.lead)
    t = np.full(n, (world.start_day + sends.day) * 86_400 + SEND_SECOND, dtype=np.int64)
    return pa.table({
        "lead_id": world.lead_ids.take(pa.array(sends.lead)),
        "campaign_id": pa.array([CAMPAIGN_ID] * n, pa.string()),
        "sent_at": format_timestamps(t),
        "channel": pa.array(["email"] * n, pa.string()),
        "is_control": take(pa.array(["false", "true"]), sends.is_control.astype(np.int64)),
        "_t": pa.array(t),
    })


@dataclass(frozen=True)
class CampaignTruth:
    """The realised effect on the treated leads of the sends whose horizon closed."""

    treated: int
    control: int
    converted_without: int  # treated leads that bought anyway (natural orders)
    converted_with: int  # treated leads that bought, campaign included

    @property
    def uplift(self) -> float:
        return (self.converted_with - self.converted_without) / self.treated if self.treated else float("nan")


def campaign_truth(world: World) -> CampaignTruth:
    """Compare each treated lead's conversion with and without its induced order, for
    sends whose horizon (sent_at, sent_at + HORIZON_DAYS] ends before the day after the
    window (the as_of of a run on the generated shop). A natural order counts as the
    warehouse counts it: a purchase status, not cancelled or refunded before that as_of."""
    from .orders import orders_for_day

    end = world.days * 86_400  # as_of, seconds after day 0
    per_day: dict[int, dict[int, list[int]]] = {}

    def natural(day: int) -> dict[int, list[int]]:
        if day not in per_day:
            o = orders_for_day(world, day)
            natural_rows = ~o.induced
            refunded = (o.refund_lag > 0) & (day + o.refund_lag < world.days)
            keep = natural_rows & ~refunded
            found: dict[int, list[int]] = {}
            for lead, sec in zip(o.lead[keep].tolist(), o.sec[keep].tolist()):
                found.setdefault(lead, []).append(day * 86_400 + sec)
            per_day[day] = found
        return per_day[day]

    treated = control = without = with_ = 0
    for day in range(world.days):
        sends = sends_for_day(world, day)
        if sends is None:
            continue
        sent = day * 86_400 + SEND_SECOND
        if sent + HORIZON_DAYS * 86_400 > end:
            continue
        control += int(sends.is_control.sum())
        bought: set[int] = set()
        for d in range(day, day + HORIZON_DAYS + 1):
            for lead, times in natural(d).items():
                if any(sent < t <= sent + HORIZON_DAYS * 86_400 for t in times):
                    bought.add(lead)
        for lead, induced in zip(sends.lead[~sends.is_control].tolist(), sends.induced[~sends.is_control].tolist()):
            treated += 1
            without += lead in bought
            with_ += (lead in bought) or induced
    return CampaignTruth(treated, control, without, with_)
