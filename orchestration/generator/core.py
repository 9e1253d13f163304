"""Day-by-day orchestration: build each day's entities, add bad rows, write files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import progress
from . import config as C
from .badrows import BadRows, event_bad_rows, lead_bad_rows, order_bad_rows
from .events import EventBatch, event_table, events_for_day
from .formatting import day_to_date
from .leads import leads_for_day
from .orders import DayOrders, order_rows, orders_for_day, refund_update_rows
from .campaigns import DEFAULT_UPLIFT, send_rows, sends_for_day
from .world import World, build_world
from .writers import write_csv, write_csv_gz, write_jsonl, write_parquet

ENTITIES = ("events", "leads", "orders", "campaign_sends")


@dataclass
class GenerationSummary:
    """What a :func:`generate` call wrote."""

    out_dir: Path
    first_date: dt.date
    last_date: dt.date
    files_written: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITIES, 0))
    bad_rows: dict[str, dict[str, int]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    truth_files: list[Path] = field(default_factory=list)
    truth_rows: int = 0

    @property
    def bad_rows_by_kind(self) -> dict[str, int]:
        """Bad rows per kind summed over entities (all kind names present)."""
        out = dict.fromkeys(C.BAD_KIND_NAMES, 0)
        for per_kind in self.bad_rows.values():
            for kind, n in per_kind.items():
                out[kind] += n
        return out

    def add_bad(self, entity: str, bad: BadRows) -> None:
        """Accumulate one day's bad-row counts."""
        target = self.bad_rows[entity]
        for kind, n in bad.counts.items():
            target[kind] = target.get(kind, 0) + n


def default_end_date() -> dt.date:
    """Yesterday in UTC."""
    return dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)


class OrdersCache:
    """Orders per day, computed on demand and kept for the look-back window only."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._days: dict[int, DayOrders] = {}

    def get(self, day: int) -> DayOrders:
        """Orders of ``day`` (cached)."""
        if day not in self._days:
            self._days[day] = orders_for_day(self.world, day)
        return self._days[day]

    def evict_before(self, day: int) -> None:
        """Forget days older than ``day``."""
        for d in [d for d in self._days if d < day]:
            del self._days[d]


def _sorted(table: pa.Table) -> pa.Table:
    """Rows ordered by the hidden ``_t`` column (stable)."""
    order = np.argsort(table.column("_t").to_numpy(), kind="stable")
    return table.take(pa.array(order))


def _with_bad(valid: pa.Table, bad: BadRows) -> pa.Table:
    """Valid rows with the bad rows merged in by time."""
    if bad.table is None:
        return valid
    return _sorted(pa.concat_tables([valid, bad.table.cast(valid.schema)]))


def _file(out_dir: Path, entity: str, date: dt.date) -> Path:
    """``<out>/<entity>/<entity>_YYYY-MM-DD.<ext>``."""
    suffix = {"events": "parquet", "leads": "csv.gz", "orders": "jsonl", "campaign_sends": "csv"}[entity]
    return out_dir / entity / f"{entity}_{date.isoformat()}.{suffix}"


def _write_day(
    world: World, day: int, out_dir: Path, events: pa.Table, event_sources: list[EventBatch],
    orders: OrdersCache, share: float, summary: GenerationSummary,
) -> None:
    """Build, spoil and write the three files of one day."""
    date = day_to_date(world.start_day + day)
    leads = leads_for_day(world, day)
    valid_orders = [order_rows(world, orders.get(day))] + refund_update_rows(world, day, orders.get)
    order_table = _sorted(pa.concat_tables(valid_orders))
    tables = {"events": events, "leads": leads, "orders": order_table}
    sends = sends_for_day(world, day)
    if sends is not None:
        tables["campaign_sends"] = send_rows(world, sends)
    if share > 0:
        bad = {
            "events": event_bad_rows(world, day, events, event_sources, share),
            "leads": lead_bad_rows(world, day, leads, share),
            "orders": order_bad_rows(world, day, order_table, orders.get, share),
        }
        for entity, b in bad.items():
            tables[entity] = _with_bad(tables[entity], b)
            summary.add_bad(entity, b)
    writers: dict[str, Callable[[pa.Table, Path], None]] = {
        "events": write_parquet,
        "leads": write_csv_gz,
        "orders": write_jsonl,
        "campaign_sends": write_csv,
    }
    for entity, table in tables.items():
        if table.num_rows == 0:
            continue
        path = _file(out_dir, entity, date)
        writers[entity](table, path)
        summary.files_written.append(path)
        summary.rows[entity] += table.num_rows


def _past_order_counts(world: World, known: dict[int, np.ndarray]) -> np.ndarray:
    """Valid orders per lead id over the window (the habit input of the truth)."""
    size = world.n_leads + world.n_store_customers
    counts = np.zeros(size, dtype=np.int64)
    for day in range(world.days):
        lead = known[day] if day in known else orders_for_day(world, day).lead
        counts += np.bincount(lead, minlength=size)
    return counts


def _write_truth(world: World, truth_out: Path, counts: np.ndarray, summary: GenerationSummary) -> None:
    """Orders of the 30 days after the window (valid rows only)."""
    for day in range(world.days, world.days + C.TRUTH_DAYS):
        future = orders_for_day(world, day, past_counts=counts)
        if future.n == 0:
            continue
        path = _file(truth_out, "orders", day_to_date(world.start_day + day))
        write_jsonl(_sorted(order_rows(world, future)), path)
        summary.truth_files.append(path)
        summary.truth_rows += future.n


def generate(
    out_dir: Path,
    truth_out: Path | None = None,
    leads: int = 20_000,
    days: int = 90,
    seed: int = 42,
    end_date: dt.date | None = None,
    bad_row_share: float = 0.01,
    day_range: tuple[int, int] | None = None,
    campaign_uplift: float | None = DEFAULT_UPLIFT,
) -> GenerationSummary:
    """Generate the landing zone (and optionally the truth window).

    ``day_range=(start, stop)`` writes only the files of day indices in
    ``[start, stop)`` of the same world (day 0 = ``end_date - days + 1``); the
    files are byte-identical to those of a full run. ``campaign_uplift``: the
    randomised campaign's effect (generator/campaigns.py); None = no campaign sends.
    """
    if campaign_uplift is not None and not 0 <= campaign_uplift <= 1:
        raise ValueError("campaign_uplift must be in [0, 1]")
    if not 0 <= bad_row_share < 1:
        raise ValueError("bad_row_share must be in [0, 1)")
    out_dir = Path(out_dir)
    end_date = end_date or default_end_date()
    world = build_world(seed, leads, days, end_date)
    world.campaign_uplift = campaign_uplift
    start, stop = day_range if day_range is not None else (0, days)
    start, stop = max(0, start), min(days, stop)
    summary = GenerationSummary(out_dir, day_to_date(world.start_day), end_date)
    orders = OrdersCache(world)
    lookback = C.EVENT_REDELIVERY_MAX_LAG if bad_row_share > 0 else 0
    recent_events: dict[int, EventBatch] = {}  # numeric, for re-deliveries
    order_leads: dict[int, np.ndarray] = {}
    for day in range(max(0, start - lookback), stop):
        day_orders = orders.get(day)
        order_leads[day] = day_orders.lead
        batch = events_for_day(world, day, day_orders)
        if day >= start:
            progress.activity(f"day {day - start + 1} of {stop - start} "
                              f"({day_to_date(world.start_day + day)})")
            sources = [recent_events[d] for d in range(day - lookback, day) if d in recent_events]
            _write_day(world, day, out_dir, event_table(world, batch), sources, orders, bad_row_share, summary)
        if lookback:
            recent_events[day] = batch
            recent_events.pop(day - lookback, None)
        orders.evict_before(day - max(C.REFUND_MAX_LAG, C.ORDER_REDELIVERY_MAX_LAG))
    if truth_out is not None:
        counts = _past_order_counts(world, order_leads)
        _write_truth(world, Path(truth_out), counts, summary)
    return summary
