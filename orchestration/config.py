"""Configuration, read from the environment in one place.

Every setting has a documented default (README, "Configuration"). Relative paths are
resolved against the project root, so the command works from any working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.landing_formats import DEFAULT_MAX_CELL_BYTES, DEFAULT_MAX_JSON_DEPTH, Limits

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _path(name: str, default: str) -> Path:
    value = Path(os.environ.get(name) or default).expanduser()
    return value if value.is_absolute() else (PROJECT_ROOT / value)


#: The environment variable of each path setting (a command-line flag overrides it).
PATH_ENV: dict[str, str] = {
    "landing_dir": "LEADSCORE_LANDING_DIR",
    "duckdb_path": "LEADSCORE_DUCKDB_PATH",
    "serving_dir": "LEADSCORE_SERVING_DIR",
    "gx_docs_dir": "LEADSCORE_GX_DOCS_DIR",
}


#: Where ``make run`` keeps the demo shop; ``leadscore run --demo-if-empty`` generates
#: demo data only here (a user-supplied landing folder that does not exist is an error).
DEFAULT_LANDING_DIR = PROJECT_ROOT / "data" / "landing"


#: DuckDB's memory_limit: a number and a unit (8GB, 512MB, 1.5GiB).
_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _size(name: str, default: str) -> str:
    """A memory size such as 8GB from the environment (DuckDB's memory_limit form)."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    if not _SIZE.fullmatch(raw.strip()):
        raise ValueError(f"environment variable {name} must be a size: a number and a unit "
                         f"(B, KB, MB, GB, TB, KiB, MiB, GiB or TiB), e.g. 8GB or 512MB, got {raw!r}")
    return raw.strip()


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


def _share(name: str, default: float) -> float:
    """A share (0 to 1) from the environment."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # nan fails too
        raise ValueError(f"environment variable {name} must be a number from 0 to 1, got {raw!r}")
    return value


def _at_least(name: str, default: int, minimum: int) -> int:
    """A whole number of at least ``minimum`` from the environment."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"environment variable {name} must be a whole number of at least "
                         f"{minimum}, got {raw!r}")
    return value


def _at_least_float(name: str, default: float, minimum: float) -> float:
    value = _float(name, default)
    if not value >= minimum:  # nan fails too
        raise ValueError(f"environment variable {name} must be a number of at least "
                         f"{minimum:g}, got {os.environ.get(name)!r}")
    return value


def _flag(name: str, default: bool) -> bool:
    """A yes/no setting from the environment (true/false, 1/0, yes/no, on/off)."""
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"environment variable {name} must be true or false, got {raw!r}")


def _days_or_keep(name: str) -> int | None:
    """A number of days (0 or more) from the environment, or None for "keep" (unset, empty
    or the word keep)."""
    raw = (os.environ.get(name) or "").strip()
    if raw == "" or raw.lower() == "keep":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"environment variable {name} must be a whole number of days (0 or "
                         f"more) or 'keep', got {raw!r}")
    return value


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` from the environment (any case)."""
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"environment variable {name} must be one of {', '.join(choices)}, "
                         f"got {os.environ.get(name)!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how DuckDB may use the machine."""

    landing_dir: Path
    duckdb_path: Path
    serving_dir: Path
    gx_docs_dir: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    duckdb_temp_dir: Path
    dbt_threads: int
    max_quarantine_share: float
    #: More environment for dbt (e.g. DBT_TARGET_PATH so parallel runs never share target/).
    extra_env: dict[str, str] = field(default_factory=dict)
    # Mart gate: no single fit grade may hold more than this share of the leads.
    max_grade_share: float = 0.98
    #: Publishing stops when the new lead_scores has lost more than this share of the
    #: published version's leads (an empty mart over a non-empty one always stops).
    max_lead_loss: float = 0.5
    #: The landing gate hands GX at most about this many rows of an entity per load (a
    #: hashed sample of larger loads): GX on pandas costs seconds per 100k rows; the
    #: blocking shares are counted exactly in DuckDB, the per-row verdicts come from staging.
    gx_max_rows: int = 100_000
    #: The mart gate hands GX a hashed sample of at most about this many leads of
    #: lead_scores (LEADSCORE_GX_MART_MAX_ROWS); the row count and the counts of nulls,
    #: duplicate leads, scores out of range and unknown values are exact (SQL, every row).
    gx_mart_max_rows: int = 100_000
    #: dagster-dbt writes each dbt build to its own folder in the dbt target folder
    #: (``dbt_models-<run>-<id>``: manifest, run results, compiled SQL, log); only this
    #: many of the newest are kept, the current run's among them (housekeeping.py).
    dbt_runs_kept: int = 5
    #: A refresh that finds no registered model trains one first (LEADSCORE_TRAIN_IF_MISSING,
    #: default on); off: the purchase probability stays empty (``unavailable``) until
    #: ``leadscore train`` or the weekly training job has run.
    train_if_missing: bool = True
    #: Mart gate: the mean purchase probability must lie within this factor of the purchase
    #: rate observed on the model's validation fold (LEADSCORE_MAX_PROBABILITY_RATIO).
    max_probability_ratio: float = 2.0
    #: The most one landing value may hold (bytes) and how deeply JSON in one may nest; a
    #: file with a larger value is refused by name (README, "File formats and dialects").
    landing_max_cell_bytes: int = DEFAULT_MAX_CELL_BYTES
    landing_max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    @property
    def landing_limits(self) -> Limits:
        return Limits(self.landing_max_cell_bytes, self.landing_max_json_depth)
    #: Landing copies of rows that every model has processed are deleted from the
    #: warehouse once loaded this many days ago (LEADSCORE_LANDING_RETENTION_DAYS; None:
    #: kept). The landing files themselves are the shop's and never touched.
    landing_retention_days: int | None = None
    #: Which dbt data tests a refresh runs (LEADSCORE_REFRESH_TESTS): ``changed`` (default)
    #: only those whose inputs changed since they last passed (orchestration/refresh_selection.py),
    #: ``all`` every one. A --full-refresh and ``make test`` run them all.
    refresh_tests: str = "changed"

    @classmethod
    def from_env(cls, overrides: Mapping[str, Path | str | None] | None = None) -> "Settings":
        """The settings of the environment; ``overrides`` (command-line flags) win.

        ``overrides`` maps a path setting (``landing_dir``, ``duckdb_path``,
        ``serving_dir``, ``gx_docs_dir``) to a path; None means "not given". A relative
        path there is relative to the current directory (as a shell user expects), unlike
        a relative path in the environment, which is relative to the project root.
        """
        given = {key: value for key, value in (overrides or {}).items() if value not in (None, "")}
        unknown = set(given) - set(PATH_ENV)
        if unknown:
            raise TypeError(f"unknown path override(s): {', '.join(sorted(unknown))}")

        def path(key: str, default: str) -> Path:
            if key in given:
                return Path(given[key]).expanduser().resolve()
            return _path(PATH_ENV[key], default)

        return cls(
            landing_dir=path("landing_dir", str(DEFAULT_LANDING_DIR)),
            duckdb_path=path("duckdb_path", "data/warehouse.duckdb"),
            serving_dir=path("serving_dir", "data/serving"),
            gx_docs_dir=path("gx_docs_dir", "data/gx_docs"),
            duckdb_memory_limit=_size("LEADSCORE_DUCKDB_MEMORY_LIMIT", "8GB"),
            duckdb_threads=_at_least("LEADSCORE_DUCKDB_THREADS", os.cpu_count() or 2, minimum=1),
            duckdb_temp_dir=_path("LEADSCORE_DUCKDB_TEMP_DIR", "data/tmp/duckdb"),
            dbt_threads=_at_least("LEADSCORE_DBT_THREADS", 2, minimum=1),
            max_quarantine_share=_share("LEADSCORE_MAX_QUARANTINE_SHARE", 0.2),
            max_grade_share=_share("LEADSCORE_MAX_GRADE_SHARE", 0.98),
            max_lead_loss=_share("LEADSCORE_MAX_LEAD_LOSS", 0.5),
            gx_max_rows=_at_least("LEADSCORE_GX_MAX_ROWS", 100_000, minimum=1),
            gx_mart_max_rows=_at_least("LEADSCORE_GX_MART_MAX_ROWS", 100_000, minimum=1),
            dbt_runs_kept=_at_least("LEADSCORE_DBT_RUNS_KEPT", 5, minimum=1),
            train_if_missing=_flag("LEADSCORE_TRAIN_IF_MISSING", True),
            max_probability_ratio=_at_least_float("LEADSCORE_MAX_PROBABILITY_RATIO", 2.0, 1.0),
            landing_max_cell_bytes=_at_least("LEADSCORE_LANDING_MAX_CELL_BYTES",
                                             DEFAULT_MAX_CELL_BYTES, minimum=1024),
            landing_max_json_depth=_at_least("LEADSCORE_LANDING_MAX_JSON_DEPTH",
                                             DEFAULT_MAX_JSON_DEPTH, minimum=1),
            landing_retention_days=_days_or_keep("LEADSCORE_LANDING_RETENTION_DAYS"),
            refresh_tests=_choice("LEADSCORE_REFRESH_TESTS", ("changed", "all"), "changed"),
        )

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt (profiles.yml) reads: absolute paths, so cwd never matters.

        On the `spark` target (LEADSCORE_DBT_TARGET) it carries Spark's settings too, its
        folders defaulting to ``spark/`` beside the DuckDB file (orchestration/spark.py).
        """
        from orchestration import spark  # here: orchestration.spark imports this module

        env = {**os.environ, **self.extra_env}
        spark_env = (spark.SparkSettings.from_env(self.duckdb_path.parent, env).env()
                     if spark.is_spark(env) else {})
        return {
            **spark_env,
            "LEADSCORE_LANDING_DIR": str(self.landing_dir),
            "LEADSCORE_DUCKDB_PATH": str(self.duckdb_path),
            "LEADSCORE_SERVING_DIR": str(self.serving_dir),
            "LEADSCORE_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "LEADSCORE_DUCKDB_THREADS": str(self.duckdb_threads),
            "LEADSCORE_DUCKDB_TEMP_DIR": str(self.duckdb_temp_dir),
            "LEADSCORE_DBT_THREADS": str(self.dbt_threads),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "false",
            **self.extra_env,
        }
