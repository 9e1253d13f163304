"""Vocabularies the gates check against, read from the seeds (one source of truth)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import yaml

from orchestration.config import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def seed_column(relative_path: str, column: str, seeds_dir: Path = SEEDS) -> list[str]:
    """The distinct non-empty values of one column of a seed CSV, in file order."""
    path = seeds_dir / relative_path
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(f"seed {path} has no column {column!r} (has: {reader.fieldnames})")
        values = [row[column].strip() for row in reader if (row[column] or "").strip()]
    return list(dict.fromkeys(values))


def event_types() -> list[str]:
    return [v.lower() for v in seed_column("reference/event_types.csv", "event_type")]


def order_statuses() -> list[str]:
    return [v.lower() for v in seed_column("reference/order_statuses.csv", "order_status")]


def currencies() -> list[str]:
    return [v.upper() for v in seed_column("reference/currency_rates.csv", "currency")]


def fit_grades() -> list[str]:
    return seed_column("rules/fit_grades.csv", "fit_grade")


def engagement_tiers() -> list[int]:
    return [int(v) for v in seed_column("rules/engagement_tiers.csv", "engagement_tier")]


def lifecycle_stages() -> list[str]:
    return seed_column("rules/lifecycle_stages.csv", "lifecycle_stage")


def recommended_actions() -> list[str]:
    return seed_column("rules/recommended_actions.csv", "recommended_action")


@lru_cache(maxsize=1)
def _dbt_vars() -> dict:
    with (PROJECT_ROOT / "dbt_project.yml").open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle).get("vars") or {})


def dbt_var(name: str, default: float) -> float:
    """A numeric var of dbt_project.yml, so the gate judges rows like staging does."""
    value = _dbt_vars().get(name, default)
    return float(default if value is None else value)
