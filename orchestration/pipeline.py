"""The steps of a refresh, as plain functions: load landing files, run dbt, summarise.

The Dagster assets (orchestration/definitions.py) and the ``leadscore`` command both call
these, so there is one implementation of each step.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from orchestration import landing, spark
from orchestration.config import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)


class RefreshAlreadyRunning(RuntimeError):
    """Another refresh holds the warehouse lock."""


class DbtCommandFailed(RuntimeError):
    """dbt exited non-zero; the message carries the tail of its output."""


#: Seconds a refresh that does not wait keeps trying for the lock: the sensor holds it
#: shared for the few milliseconds it reads the loader's manifest.
LOCK_GRACE_SECONDS = 2.0


def _lock_path(settings: Settings) -> Path:
    return settings.duckdb_path.with_name(settings.duckdb_path.name + ".lock")


def _flock_within(handle: Any, flags: int, seconds: float) -> None:
    """flock with LOCK_NB, retried for ``seconds`` (raises the last OSError)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(handle.fileno(), flags | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


#: Lock files this process holds (``refresh_lock``), for ``reentrant`` callers.
_HELD: set[Path] = set()


@contextlib.contextmanager
def refresh_lock(settings: Settings, wait: bool = False, reentrant: bool = False
                 ) -> Iterator[Path]:
    """One refresh at a time per warehouse: an exclusive lock file beside the DuckDB file.

    With ``wait=False`` a second refresh exits with :class:`RefreshAlreadyRunning` (after
    a grace of ``LOCK_GRACE_SECONDS``, the longest a sensor tick holds it shared). The lock
    is released by the kernel when the process dies, so a killed run never leaves a stale
    lock behind.

    ``reentrant=True``: when this process already holds the lock (a step of the refresh
    calling code that also runs on its own, like training or scoring), go on under it.
    """
    lock_path = _lock_path(settings)
    if reentrant and lock_path.resolve() in _HELD:
        yield lock_path
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+")
    try:
        try:
            if wait:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            else:
                _flock_within(handle, fcntl.LOCK_EX, LOCK_GRACE_SECONDS)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise RefreshAlreadyRunning(
                    f"a refresh of {settings.duckdb_path} is already running ({holder}); "
                    "try again when it has finished, or pass --wait"
                ) from exc
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        _HELD.add(lock_path.resolve())
        try:
            yield lock_path
        finally:
            _HELD.discard(lock_path.resolve())
    finally:
        handle.close()


@contextlib.contextmanager
def unless_refreshing(settings: Settings) -> Iterator[None]:
    """Hold the refresh lock *shared* for a short read of the warehouse outside a refresh
    (the sensor): raises :class:`RefreshAlreadyRunning` at once while a refresh holds it,
    and keeps a refresh from starting (for at most its grace) while the block runs."""
    lock_path = _lock_path(settings)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise RefreshAlreadyRunning(
                    f"a refresh of {settings.duckdb_path} is running") from exc
            raise
        yield  # closing the file releases the lock


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse with the configured resource limits."""
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(settings.duckdb_path),
        read_only=read_only,
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "temp_directory": str(settings.duckdb_temp_dir),
        },
    )
    # ICU is linked in but loads after connect, so the time zone is set here, not in config.
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con


def load_landing(
    settings: Settings,
    *,
    full_refresh: bool = False,
    inspect: landing.BatchInspector | None = None,
) -> landing.LoadResult:
    """Copy new landing files into the warehouse (see :mod:`orchestration.landing`); rows
    of people erased on request are dropped (:func:`orchestration.privacy.drop_erased_rows`)."""
    from orchestration import privacy

    with contextlib.closing(connect(settings)) as con:
        if not full_refresh:  # a full refresh reloads every file anyway
            privacy.prune_landing(settings, con)
        return landing.load(con, settings.landing_dir, full_refresh=full_refresh, inspect=inspect,
                            limits=settings.landing_limits,
                            drop=lambda con_, batch: privacy.drop_erased_rows(settings, con_, batch))


def spark_settings(settings: Settings) -> "spark.SparkSettings":
    """Spark's settings for this warehouse (its folders beside the DuckDB file by default)."""
    return spark.SparkSettings.from_env(settings.duckdb_path.parent, {**os.environ, **settings.extra_env})


def on_spark(settings: Settings) -> bool:
    """Whether dbt builds on Spark (LEADSCORE_DBT_TARGET=spark; an unknown target raises)."""
    return spark.is_spark({**os.environ, **settings.extra_env})


def hand_over_to_spark(settings: Settings) -> None:
    """Spark target: give Spark the landing and predictive tables the loader wrote."""
    with contextlib.closing(connect(settings)) as con:
        spark.hand_over_sources(con, spark_settings(settings))


def bring_back_from_spark(settings: Settings, tables: Sequence[str] | None = None) -> list[str]:
    """Spark target: copy Spark's tables (all, or ``tables``) into the DuckDB warehouse,
    each in its model's column order (from dbt's manifest, when it lists every column)."""
    target = Path({**os.environ, **settings.dbt_env()}.get("DBT_TARGET_PATH") or PROJECT_ROOT / "target")
    order: dict[str, list[str]] = {}
    manifest = target / "manifest.json"
    if manifest.exists():
        import json

        for node in json.loads(manifest.read_text()).get("nodes", {}).values():
            if node.get("resource_type") in ("model", "seed") and node.get("columns"):
                order[f"{node['schema']}.{node['alias']}"] = list(node["columns"])
    with contextlib.closing(connect(settings)) as con:
        return spark.bring_back_results(con, spark_settings(settings), tables=tables, column_order=order)


def dbt_executable() -> str:
    """The dbt of this virtualenv (not whatever is first on PATH)."""
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if found is None:
        raise FileNotFoundError("dbt is not installed in this environment; run `make setup`")
    return found


def as_of_env(as_of: str | None) -> dict[str, str]:
    """The environment that gives dbt a run's ``as_of`` (``macros/as_of.sql``; empty: the
    run's start). An environment variable, not ``--vars``: dbt re-parses the whole project
    when the vars change and only the files that read a changed environment variable, so
    a refresh at a new ``as_of`` keeps dbt's partial parsing. Always set, so a value left
    in the caller's shell never leaks into a run."""
    return {"LEADSCORE_AS_OF": as_of or ""}


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    as_of: str | None = None,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run one dbt command from the project root against the configured warehouse."""
    env = {**os.environ, **settings.dbt_env(), **as_of_env(as_of)}
    command = [dbt_executable(), *args]
    log.info("running %s", " ".join(command))
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    if not quiet:
        sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise DbtCommandFailed(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc


def normalise_as_of(value: str | None) -> str | None:
    """Accept a date or a timestamp (ISO-8601; an offset is converted to UTC)."""
    if value is None or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"--as-of must be a date (YYYY-MM-DD) or an ISO-8601 timestamp, got {value!r}"
        ) from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


SUMMARY_TABLES: list[tuple[str, str]] = [
    ("landing", "events"),
    ("landing", "leads"),
    ("landing", "orders"),
    ("staging", "stg_landing__events"),
    ("staging", "stg_landing__leads"),
    ("staging", "stg_landing__orders"),
    ("quarantine", "quarantined_rows"),
    ("scores", "demographic_scores"),
    ("scores", "engagement_scores"),
    ("scores", "page_intent_scores"),
    ("scores", "purchase_scores"),
    ("marts", "lead_scores"),
    ("marts", "lead_category_interest"),
    ("marts", "lead_score_history"),
]


def rows_per_layer(settings: Settings) -> list[tuple[str, int]]:
    """Rows of each table of :data:`SUMMARY_TABLES` that exists (``leadscore -v run``)."""
    with contextlib.closing(connect(settings, read_only=True)) as con:
        return [
            (f"{schema}.{table}", con.execute(f"select count(*) from {schema}.{table}").fetchone()[0])
            for schema, table in SUMMARY_TABLES
            if _table_exists(con, schema, table)
        ]
