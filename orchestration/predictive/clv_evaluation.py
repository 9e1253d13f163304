"""Measure ``clv.fit_and_predict`` on a generated shop against the next period's orders.

    python -m orchestration.predictive.clv_evaluation --landing DIR --truth DIR \
        [--as-of YYYY-MM-DD] [--horizon-days 30]

Reads the landing order files (``orders/*.jsonl``) directly, without the warehouse, so the
measurement does not depend on a dbt build: an approximation of staging that is enough to
compare predicted and actual counts (valid ids, parseable times, a non-negative numeric
amount, a status of ``seeds/reference/order_statuses.csv`` (empty = completed), amounts to
EUR by ``currency_rates.csv``, the latest version of each order known before the cut).
History = purchases before ``as_of`` with their status as known then; actual = the
purchases of the truth folder (the generator's ``--truth-out``) in
[as_of, as_of + horizon), counted as the model counts them (purchase days per lead).

Beside BG/NBD + Gamma-Gamma it measures the alternative the issue names, a regression
learned from the shop's own past (:func:`regression_predictions`): LightGBM with a Poisson
objective on each customer's purchase summary (purchase days, recency, tenure, mean order
value) at ``as_of - horizon``, labelled with the purchase days of the following horizon,
applied at ``as_of``; its expected value is expected purchases x the mean order value.
Pass the landing folder itself as ``--truth`` with an earlier ``--as-of`` to measure on
the shop's own later history instead of the generator's truth window.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orchestration.backtest import auc
from orchestration.config import PROJECT_ROOT
from orchestration.predictive import clv

REFERENCE = PROJECT_ROOT / "seeds" / "reference"


def read_orders(folder: Path) -> pd.DataFrame:
    """Every order row of ``folder/orders/*.jsonl``, typed, bad rows dropped."""
    files = sorted((Path(folder) / "orders").glob("*.jsonl"))
    frame = pd.concat([pd.read_json(f, lines=True, dtype=False) for f in files],
                      ignore_index=True)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], errors="coerce", utc=True,
                                         format="ISO8601").dt.tz_convert(None)
    updated = pd.to_datetime(frame.get("updated_at"), errors="coerce", utc=True,
                             format="ISO8601").dt.tz_convert(None)
    frame["version_at"] = updated.fillna(frame["ordered_at"])
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce")
    status = frame.get("status", pd.Series(None, index=frame.index))
    frame["status"] = status.fillna("").astype(str).str.strip().str.lower().replace("", "completed")
    statuses = pd.read_csv(REFERENCE / "order_statuses.csv")
    counts = dict(zip(statuses["order_status"], statuses["counts_as_purchase"]))
    frame = frame[frame["order_id"].notna() & frame["lead_id"].notna()
                  & frame["ordered_at"].notna() & (frame["amount"] >= 0)
                  & frame["status"].isin(counts.keys())].copy()
    frame["counts_as_purchase"] = frame["status"].map(counts).astype(bool)
    rates = pd.read_csv(REFERENCE / "currency_rates.csv", parse_dates=["valid_from"])
    rates = rates.sort_values("valid_from").groupby("currency")["eur_per_unit"].last()
    frame["amount_eur"] = frame["amount"] * frame["currency"].fillna("EUR").map(rates)
    return frame[frame["amount_eur"].notna()]


def purchases_known_at(orders: pd.DataFrame, cut: pd.Timestamp | None) -> pd.DataFrame:
    """The orders that count as purchases in their latest version before ``cut`` (all
    versions when ``cut`` is None)."""
    if cut is not None:
        orders = orders[orders["version_at"] < cut]
    latest = orders.sort_values(["order_id", "version_at"]).drop_duplicates("order_id",
                                                                            keep="last")
    return latest.loc[latest["counts_as_purchase"], ["lead_id", "ordered_at", "amount_eur"]]


def _purchase_days(purchases: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
                   ) -> pd.Series:
    """Purchase days per lead in [start, end) (the unit BG/NBD counts)."""
    window = purchases[(purchases["ordered_at"] >= start) & (purchases["ordered_at"] < end)]
    return window.assign(day=window["ordered_at"].dt.floor("D")).groupby("lead_id")["day"].nunique()


def _summary_features(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"purchase_days": summary["x"] + 1,
                         "days_since_last": summary["T"] - summary["t_x"],
                         "tenure_days": summary["T"],
                         "mean_order_value": summary["mean_order_value"]})


def regression_predictions(history: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int,
                           seed: int = 42) -> pd.DataFrame:
    """Expected purchase days and value per customer at ``as_of`` from a Poisson LightGBM
    trained on the summaries at ``as_of - horizon`` and the purchase days that followed."""
    import lightgbm as lgb

    horizon = pd.Timedelta(days=horizon_days)
    cut = as_of - horizon
    before = clv.summarise_orders(history, cut)
    label = _purchase_days(history, cut, as_of).reindex(before["lead_id"]).fillna(0)
    params = {"objective": "poisson", "learning_rate": 0.05, "num_leaves": 15,
              "min_data_in_leaf": 40, "verbosity": -1, "seed": seed, "deterministic": True,
              "force_row_wise": True, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(_summary_features(before), label.to_numpy()),
                        num_boost_round=200)
    now = clv.summarise_orders(history, as_of)
    expected = booster.predict(_summary_features(now), num_threads=1)
    return pd.DataFrame({"lead_id": now["lead_id"], "expected_orders": expected,
                         "expected_value_eur": expected * now["mean_order_value"]})


def _figures(predicted: pd.Series, predicted_value: pd.Series, actual: pd.Series,
             actual_value: pd.Series) -> dict[str, float]:
    buyer = (actual > 0).astype(int)
    return {
        "sum_expected_orders": float(predicted.sum()), "sum_actual_orders": float(actual.sum()),
        "pearson_orders": float(np.corrcoef(predicted, actual)[0, 1]),
        "spearman_orders": float(predicted.rank().corr(actual.rank())),
        "mae_orders": float((predicted - actual).abs().mean()),
        "auc_buys_again": float(auc(predicted, buyer)),
        "sum_expected_value_eur": float(predicted_value.sum()),
        "sum_actual_value_eur": float(actual_value.sum()),
        "pearson_value": float(np.corrcoef(predicted_value, actual_value)[0, 1]),
    }


def evaluate(landing: Path, truth: Path, as_of: pd.Timestamp, horizon_days: int,
             min_customers: int = clv.MIN_CUSTOMERS) -> dict[str, Any]:
    """Fit at ``as_of`` on the landing orders, compare with the truth folder's purchases."""
    history = purchases_known_at(read_orders(landing), as_of)
    result = clv.fit_and_predict(history, as_of, horizon_days, min_customers=min_customers)
    end = as_of + pd.Timedelta(days=horizon_days)
    future = purchases_known_at(read_orders(truth), None)
    future = future[(future["ordered_at"] >= as_of) & (future["ordered_at"] < end)]
    actual_days = _purchase_days(future, as_of, end)
    actual_value = future.groupby("lead_id")["amount_eur"].sum()
    frame = result.predictions.set_index("lead_id")
    frame["actual_orders"] = actual_days.reindex(frame.index).fillna(0)
    frame["actual_value_eur"] = actual_value.reindex(frame.index).fillna(0.0)
    actual = frame["actual_orders"]
    regression = regression_predictions(history, as_of, horizon_days).set_index("lead_id")
    regression = regression.reindex(frame.index)

    return {
        "as_of": as_of.isoformat(), "horizon_days": horizon_days,
        "method": result.report["method"], "report": result.report,
        "customers": int(len(frame)),
        **_figures(frame["expected_orders"], frame["expected_value_eur"], actual,
                   frame["actual_value_eur"]),
        "regression": _figures(regression["expected_orders"], regression["expected_value_eur"],
                               actual, frame["actual_value_eur"]),
        "purchases_of_non_customers": int((~future["lead_id"].isin(frame.index)).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--as-of", help="default: the day after the last landing file's day")
    parser.add_argument("--horizon-days", type=int, default=30)
    parser.add_argument("--min-customers", type=int, default=clv.MIN_CUSTOMERS)
    args = parser.parse_args(argv)
    if args.as_of:
        as_of = pd.Timestamp(args.as_of)
    else:
        # the file names, not the timestamps: some bad rows are dated in the future
        last = max((args.landing / "orders").glob("*.jsonl")).stem.split("_")[-1]
        as_of = pd.Timestamp(last) + pd.Timedelta(days=1)
    print(json.dumps(evaluate(args.landing, args.truth, as_of, args.horizon_days,
                              args.min_customers), indent=2, default=str))


if __name__ == "__main__":
    main()
