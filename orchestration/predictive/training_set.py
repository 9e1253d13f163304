"""The training set of the predictive score, point in time, from the warehouse itself.

A row is (snapshot date, lead): the lead's features as ``int_lead_features`` computed them
at the snapshot (the same SQL that feeds scoring: dbt rebuilds that model and only its
``as_of``-tagged ancestors at each snapshot date) and the label "placed an order that
counts as a purchase in [snapshot, snapshot + horizon)".

Why it cannot leak:

- features: the ``as_of`` models count nothing at or after their ``as_of`` (the project's
  as_of invariance), so a snapshot with later data present equals one on data cut there;
- labels: read from ``int_orders_as_of`` built at the *training* ``as_of`` (the orders and
  statuses known then), and every label window ends at or before it;
- folds: the latest ``training_validation_snapshots`` form the validation fold; every
  training snapshot's label window ends at or before the earliest validation snapshot, so
  no purchase labels a training row and a validation row of the same lead (a purged,
  time-based split, never a random one).

The schedule, for horizon h and interval i, as_of A:
validation snapshots ``A - h - k*i`` (k < training_validation_snapshots), training snapshots
``V - h - k*i`` (k < training_snapshots) where V is the earliest validation snapshot.
A snapshot is left out (and said so) when the shop's data had not yet run for
``training_min_history_days`` before it: before its data begins, a shop's leads (often
imported with old sign-up dates) have no events and no orders, so every label would read
"did not buy" and the features "never visited", which is missing history, not behaviour.
The data begins when the last of the sources the shop sends (events, orders) begins.

Cost: the warehouse is copied once to a temporary file (the live warehouse is never
touched, as in the backtest) and each snapshot is one ``dbt run`` of the ~20 as_of models
that ``int_lead_features`` needs, not the whole as_of layer with the marts and history.
When the shop has more leads than ``training_max_leads_per_snapshot``, the copy is cut
down to a sample of them before the first snapshot (a stable hash of lead id and seed; the
same leads in every snapshot): every row of another lead is deleted from the staging and
intermediate tables that have a ``lead_id``, so each snapshot's SQL reads the sample only.
A lead's features depend on its own rows and the seeds alone (no rank or share across
leads in the as_of layer), so a sampled lead's features equal those of the whole
warehouse; a test holds that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from orchestration import pipeline
from orchestration.config import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

#: dbt selection: int_lead_features and its as_of-tagged ancestors (what a snapshot needs).
FEATURE_SELECTION = "tag:as_of,+int_lead_features"
#: dbt selection of what the labels need: the orders as known at the training as_of.
ORDER_SELECTION = "tag:as_of,+int_orders_as_of"
#: Columns of a training frame that are not features.
META_COLUMNS = ["snapshot_at", "lead_id", "as_of", "label", "fold"]


@dataclass(frozen=True)
class TrainingConfig:
    """The vars of dbt_project.yml that drive training (see README "Predictive score")."""

    prediction_horizon_days: int = 30
    training_snapshots: int = 6
    training_snapshot_interval_days: int = 7
    training_validation_snapshots: int = 1
    training_max_leads_per_snapshot: int = 50000
    training_min_positives: int = 100
    training_min_negatives: int = 100
    training_min_auc_gain: float = 0.0
    training_min_history_days: int = 7
    training_seed: int = 42
    training_num_threads: int = 1
    training_lightgbm_params: dict[str, Any] = field(default_factory=dict)
    rules_calibration_band_points: int = 10
    rules_calibration_prior_leads: int = 20
    propensity_reasons_top_n: int = 3
    customer_value_min_repeat_customers: int = 50
    customer_value_prior_days: float = 30.0

    @classmethod
    def from_project(cls, **overrides: Any) -> TrainingConfig:
        """The vars as dbt_project.yml sets them, with ``overrides`` on top (tests)."""
        project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in (project.get("vars") or {}).items() if k in names}
        config = cls(**{**values, **overrides})
        config.check()
        return config

    def check(self) -> None:
        """Refuse values that would make a meaningless training set, naming the var."""
        for name in ("prediction_horizon_days", "training_snapshots",
                     "training_snapshot_interval_days", "training_validation_snapshots",
                     "training_max_leads_per_snapshot", "rules_calibration_band_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"var {name} must be a whole number, at least 1, got {value!r}")
        value = self.training_min_history_days
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("var training_min_history_days must be a whole number of days, "
                             f"0 or more, got {value!r}")

    def snapshot_dates(self, as_of: dt.datetime) -> dict[str, list[dt.datetime]]:
        """The snapshot dates of each fold, oldest first (see the module docstring)."""
        horizon = dt.timedelta(days=self.prediction_horizon_days)
        step = dt.timedelta(days=self.training_snapshot_interval_days)
        validation = [as_of - horizon - k * step for k in range(self.training_validation_snapshots)]
        train = [min(validation) - horizon - k * step for k in range(self.training_snapshots)]
        return {"train": sorted(train), "validation": sorted(validation)}


@dataclass
class TrainingSet:
    """The labelled snapshots and what it took to build them."""

    as_of: dt.datetime
    frame: pd.DataFrame
    snapshots: dict[str, list[dt.datetime]]
    seconds_per_snapshot: list[float]
    #: Snapshots at which the shop had no known lead yet (left out).
    empty_snapshots: list[dt.datetime] = field(default_factory=list)
    #: Snapshots before the shop's data had run training_min_history_days (left out).
    early_snapshots: list[dt.datetime] = field(default_factory=list)
    #: The day the shop's data begins (see the module docstring); None: it has none.
    data_starts_at: dt.datetime | None = None
    #: Leads the copy was cut down to (None: every lead, the shop was small enough).
    sampled_leads: int | None = None

    @property
    def snapshots_planned(self) -> list[dt.datetime]:
        """Every snapshot of the schedule, used or left out."""
        return sorted({*self.snapshots["train"], *self.snapshots["validation"],
                       *self.empty_snapshots, *self.early_snapshots})

    @property
    def positives(self) -> int:
        return int(self.frame["label"].sum())

    @property
    def negatives(self) -> int:
        return int(len(self.frame) - self.frame["label"].sum())


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


#: The sample's order: a stable hash of lead id and seed (then the id, for ties).
_SAMPLE_ORDER = "md5(lead_id || '/' || ?), lead_id"


def keep_sample(settings: Settings, max_leads: int, seed: int) -> int | None:
    """Cut the warehouse of ``settings`` (a private copy) down to ``max_leads`` leads of
    ``intermediate.int_lead_spine`` (every lead known at its latest refresh), chosen by a
    stable hash of lead and seed: delete every row of another lead from the staging and
    intermediate tables with a ``lead_id`` column (rows without a lead stay). Returns the
    leads kept, or None when the shop has no more leads than that (nothing is deleted)."""
    with contextlib.closing(pipeline.connect(settings)) as con:
        if not pipeline._table_exists(con, "intermediate", "int_lead_spine"):
            return None
        total = con.execute("select count(*) from intermediate.int_lead_spine").fetchone()[0]
        if total <= max_leads:
            return None
        con.execute(
            "create or replace table main.training_sample as "
            f"select lead_id from intermediate.int_lead_spine order by {_SAMPLE_ORDER} limit ?",
            [str(seed), max_leads])
        tables = con.execute(
            """
            select t.table_schema, t.table_name
            from information_schema.tables as t
            join information_schema.columns as c
                on c.table_schema = t.table_schema and c.table_name = t.table_name
            where t.table_schema in ('staging', 'intermediate')
                and t.table_type = 'BASE TABLE' and c.column_name = 'lead_id'
            order by 1, 2
            """).fetchall()
        for schema, table in tables:
            quoted = ".".join('"' + name.replace('"', '""') + '"' for name in (schema, table))
            con.execute(f"delete from {quoted} where lead_id not in "
                        "(select lead_id from main.training_sample)")
        con.execute("checkpoint")
    log.info("training on a sample of %d of %d leads (training_max_leads_per_snapshot)",
             max_leads, total)
    return max_leads


def _features_at(
    settings: Settings, snapshot: dt.datetime, max_leads: int, seed: int
) -> pd.DataFrame:
    """int_lead_features rebuilt at ``snapshot`` in the warehouse of ``settings`` (a copy),
    at most ``max_leads`` leads by the sample's order (see :func:`keep_sample`)."""
    pipeline.run_dbt(settings, ["run", "--quiet", "--select", FEATURE_SELECTION],
                     as_of=_stamp(snapshot), quiet=True)
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        return con.execute(
            f"select * from intermediate.int_lead_features order by {_SAMPLE_ORDER} limit ?",
            [str(seed), max_leads],
        ).df()


def _purchases_known_at(settings: Settings, as_of: dt.datetime) -> pd.DataFrame:
    """The orders that count as purchases as known at ``as_of``: lead_id, ordered_at."""
    pipeline.run_dbt(settings, ["run", "--quiet", "--select", ORDER_SELECTION],
                     as_of=_stamp(as_of), quiet=True)
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        return con.execute(
            "select lead_id, ordered_at from intermediate.int_orders_as_of "
            "where counts_as_purchase"
        ).df()


def data_start(settings: Settings) -> dt.datetime | None:
    """When the shop's data begins: the latest of the first staged event and the first
    staged order (of the sources that have rows); None when it has neither."""
    firsts = []
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        for table, column in (("stg_landing__events", "occurred_at"),
                              ("stg_landing__orders", "ordered_at")):
            if pipeline._table_exists(con, "staging", table):
                first = con.execute(f"select min({column}) from staging.{table}").fetchone()[0]
                if first is not None:
                    firsts.append(pd.Timestamp(first).to_pydatetime())
    return max(firsts) if firsts else None


def label(features: pd.DataFrame, purchases: pd.DataFrame, start: dt.datetime,
          horizon_days: int) -> pd.Series:
    """1 where the lead has a purchase in [start, start + horizon), else 0."""
    end = start + dt.timedelta(days=horizon_days)
    ordered = pd.to_datetime(purchases["ordered_at"])
    buyers = set(purchases.loc[(ordered >= start) & (ordered < end), "lead_id"])
    return features["lead_id"].isin(buyers).astype(int)


@contextlib.contextmanager
def warehouse_copy(settings: Settings) -> Any:
    """Settings pointing at a temporary copy of the warehouse (taken under the refresh
    lock, so never half-written); the copy is removed on exit."""
    if not settings.duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.duckdb_path}: run `leadscore run` first")
    with tempfile.TemporaryDirectory(prefix="leadscore-train-",
                                     dir=settings.duckdb_temp_dir.parent) as tmp:
        # dbt rebuilds the snapshots in this DuckDB copy, whatever LEADSCORE_DBT_TARGET is
        # (on Spark, the copy holds the tables the Spark build brought back)
        copy = dataclasses.replace(settings, duckdb_path=Path(tmp) / "train.duckdb",
                                   extra_env={**settings.extra_env, "LEADSCORE_DBT_TARGET": "duckdb",
                                              # its own dbt target: the project's manifests
                                              # keep naming the warehouse (mf reads them)
                                              "DBT_TARGET_PATH": str(Path(tmp) / "target")})
        with pipeline.refresh_lock(settings, wait=True, reentrant=True):
            shutil.copy2(settings.duckdb_path, copy.duckdb_path)
        yield copy


def build_training_set(
    settings: Settings, as_of: dt.datetime, config: TrainingConfig
) -> TrainingSet:
    """Every snapshot of ``config`` labelled, one frame (see the module docstring)."""
    schedule = config.snapshot_dates(as_of)
    frames: list[pd.DataFrame] = []
    seconds: list[float] = []
    empty: list[dt.datetime] = []
    early: list[dt.datetime] = []
    used: dict[str, list[dt.datetime]] = {fold: [] for fold in schedule}
    sampled = None
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    with warehouse_copy(settings) as copy:
        starts = data_start(copy)
        earliest = (None if starts is None
                    else starts + dt.timedelta(days=config.training_min_history_days))
        purchases = _purchases_known_at(copy, as_of)
        if any(earliest is not None and snapshot >= earliest
               for fold in schedule.values() for snapshot in fold):
            sampled = keep_sample(copy, config.training_max_leads_per_snapshot,
                                  config.training_seed)
        for fold in ("train", "validation"):
            for snapshot in schedule[fold]:
                if earliest is None or snapshot < earliest:
                    early.append(snapshot)
                    continue
                started = time.monotonic()
                features = _features_at(copy, snapshot, config.training_max_leads_per_snapshot,
                                        config.training_seed)
                seconds.append(time.monotonic() - started)
                log.info("snapshot %s: %d leads in %.1f s", snapshot, len(features), seconds[-1])
                if features.empty:
                    empty.append(snapshot)
                    continue
                used[fold].append(snapshot)
                features.insert(0, "snapshot_at", snapshot)
                features["label"] = label(features, purchases, snapshot,
                                          config.prediction_horizon_days)
                features["fold"] = fold
                frames.append(features)
    if early:
        log.info("left out %d snapshot(s) before %s (the shop's data begins %s, "
                 "training_min_history_days %d)", len(early), earliest, starts,
                 config.training_min_history_days)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=META_COLUMNS)
    frame = frame.sort_values(["snapshot_at", "lead_id"], kind="stable").reset_index(drop=True)
    return TrainingSet(as_of, frame, used, seconds, empty, early, starts, sampled)
