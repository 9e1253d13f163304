"""The Dagster instance leadscore writes its runs to (``$DAGSTER_HOME``) and its event log.

A refresh records ~1,200 Dagster events (a materialization per dbt model and seed, a
planned and an evaluated asset check per dbt data test). Dagster's default SQLite event
log opens a new engine, commits with a full fsync and closes (which checkpoints the WAL,
another fsync) for every event, and writes each asset event twice (the run's shard and
the index shard): on this project's reference machine that cost more than the dbt build
of a refresh with nothing new (``python bench/dagster_events.py``: 94 s for 60 assets
and 340 checks, against 7 s with the storage below).

:class:`LeadscoreSqliteEventLogStorage` is the same storage, on the same files (runs
recorded before it stay readable, and the UI reads it like the default), with two
changes: a process keeps one pooled engine for each of the few shards it writes at once
(an LRU of :data:`ENGINES_KEPT`), and its connections run SQLite's ``synchronous=NORMAL``,
which in WAL mode (Dagster's setting) syncs at checkpoints instead of at every commit. A
crash of the machine can lose the last moments of a run's event log, never corrupt it;
the warehouse and the serving layer do not depend on it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

#: Engines kept per process: a refresh writes its run's shard and the index shard; the UI
#: may write a few runs at once. Older engines are disposed (their files closed).
ENGINES_KEPT = 8

DAGSTER_YAML = """\
# Written by leadscore: no telemetry; UI, schedule and sensor runs queue one at a time;
# the event log is Dagster's SQLite one with fewer fsyncs (orchestration/dagster_instance.py).
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
event_log_storage:
  module: orchestration.dagster_instance
  class: LeadscoreSqliteEventLogStorage
"""
#: The first line of every dagster.yaml leadscore wrote: such a file is ours to upgrade.
_OURS = "# Written by leadscore"


class LeadscoreSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log with pooled engines and WAL-normal syncs.

    ``base_dir`` defaults to ``$DAGSTER_HOME/history/runs``, where Dagster's default
    storage keeps the same files."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.RLock()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: dict[str, Any]
                          ) -> LeadscoreSqliteEventLogStorage:
        base_dir = config_value.get("base_dir")
        if not base_dir:
            home = os.environ.get("DAGSTER_HOME")
            if not home:
                raise ValueError("LeadscoreSqliteEventLogStorage needs base_dir or DAGSTER_HOME")
            base_dir = os.path.join(home, "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(self.conn_string_for_shard(shard),
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _normal_sync)
            self._engines[shard] = engine
            while len(self._engines) > ENGINES_KEPT:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:  # type: ignore[override]
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            while self._engines:
                _, engine = self._engines.popitem()
                engine.dispose()

    def wipe(self) -> None:
        self._dispose_engines()  # files are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def ensure_dagster_home(home: Path) -> Path:
    """Create $DAGSTER_HOME with leadscore's dagster.yaml unless one exists; a dagster.yaml
    an earlier leadscore wrote is brought up to date, anybody else's is left alone."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    else:
        text = config.read_text(encoding="utf-8")
        if text.startswith(_OURS) and text != DAGSTER_YAML:
            config.write_text(DAGSTER_YAML, encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestration.dagster_instance [HOME]``: ensure the instance folder
    (``make ui``), default ``$DAGSTER_HOME``."""
    args = sys.argv[1:] if argv is None else argv
    home = args[0] if args else os.environ.get("DAGSTER_HOME")
    if not home:
        print("DAGSTER_HOME is not set and no folder was given", file=sys.stderr)
        return 2
    print(ensure_dagster_home(Path(home)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
