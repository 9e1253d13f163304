"""The serving layer: atomic publication that readers never notice (no dbt needed)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    Workspace,
    orchestration_session,
    workspace,
)

from orchestration import serving
from orchestration.config import Settings


def make_warehouse(settings: Settings, leads: int, as_of: str = "2024-07-01") -> None:
    """A stand-in warehouse with the three served marts."""
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path))) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.lead_scores as "
            f"select 'L' || lpad(i::varchar, 4, '0') as lead_id, timestamp '{as_of}' as as_of, "
            "(i * 7) % 101 as lead_score from range(?) t(i)",
            [leads],
        )
        con.execute(
            "create or replace table marts.lead_category_interest as "
            "select lead_id, as_of, 'shoes' as product_category from marts.lead_scores"
        )
        con.execute(
            "create or replace table marts.lead_score_history as "
            "select lead_id, as_of, lead_score from marts.lead_scores"
        )


def published_state(serving_dir: Path) -> dict[str, object]:
    """What a reader can see: file identities and the manifest."""
    return {
        "manifest": serving.read_manifest(serving_dir),
        **{name: (os.stat(serving_dir / name).st_ino, os.stat(serving_dir / name).st_mtime_ns,
                  os.stat(serving_dir / name).st_size)
           for name in (serving.PARQUET_NAME, serving.DUCKDB_NAME)},
    }


def test_publish_writes_readable_files_and_a_manifest(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=12)
    publication = serving.publish(settings, run_id="r1")

    parquet = pd.read_parquet(settings.serving_dir / serving.PARQUET_NAME)
    assert len(parquet) == 12 and {"lead_id", "lead_score"} <= set(parquet.columns)
    with contextlib.closing(
        duckdb.connect(str(settings.serving_dir / serving.DUCKDB_NAME), read_only=True)
    ) as con:
        tables = {row[0]: con.execute(f"select count(*) from {row[0]}").fetchone()[0]
                  for row in con.execute("show tables").fetchall()}
    assert tables == {"lead_scores": 12, "lead_category_interest": 12, "lead_score_history": 12}
    manifest = json.loads((settings.serving_dir / "manifest.json").read_text())
    assert manifest["row_counts"] == tables and manifest["as_of"] == "2024-07-01 00:00:00"
    assert manifest["run_id"] == "r1" and manifest == serving.read_manifest(settings.serving_dir)
    assert publication.published_at == manifest["published_at"]
    # nothing but the published files is left behind
    assert sorted(p.name for p in settings.serving_dir.iterdir()) == [
        "lead_scores.parquet", "manifest.json", "serving.duckdb"]


def test_failed_publish_keeps_the_previous_version(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=5)
    serving.publish(settings)
    before = published_state(settings.serving_dir)
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path))) as con:
        con.execute("drop table marts.lead_score_history")  # the copy fails half-way
    with pytest.raises(duckdb.CatalogException):
        serving.publish(settings)
    assert published_state(settings.serving_dir) == before
    assert sorted(p.name for p in settings.serving_dir.iterdir()) == [
        "lead_scores.parquet", "manifest.json", "serving.duckdb"]


def test_stale_temporary_files_of_dead_publishers_are_removed(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=3)
    settings.serving_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = settings.serving_dir / f".serving.duckdb{serving.TEMP_MARKER}{dead}-abc"
    alive = settings.serving_dir / f".serving.duckdb{serving.TEMP_MARKER}{os.getppid()}-abc"
    stale.write_bytes(b"half written")
    alive.write_bytes(b"being written by a live process")
    serving.publish(settings)
    assert not stale.exists() and alive.exists()


READER = r"""
import json, sys, time, duckdb
from pathlib import Path
db, ready, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
con = duckdb.connect(db, read_only=True)
seen = []
ready.write_text("ready")
while not stop.exists():
    seen.append(con.execute("select count(*) from lead_scores").fetchone()[0])
    time.sleep(0.02)
seen.append(con.execute("select count(*) from lead_scores").fetchone()[0])
print(json.dumps(seen))
"""


def start_reader(db: Path, folder: Path) -> tuple[subprocess.Popen, Path]:
    """A separate process holding ``db`` open and reading it in a loop until told to stop."""
    ready, stop = folder / "reader.ready", folder / "reader.stop"
    proc = subprocess.Popen([sys.executable, "-c", READER, str(db), str(ready), str(stop)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"reader died: {proc.stderr.read()}")
        time.sleep(0.01)
    return proc, stop


def stop_reader(proc: subprocess.Popen, stop: Path) -> list[int]:
    stop.write_text("stop")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_a_reader_holding_the_file_open_neither_blocks_nor_breaks_a_publish(
    workspace: Workspace,
) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=10)
    serving.publish(settings)
    db = settings.serving_dir / serving.DUCKDB_NAME
    reader, stop = start_reader(db, workspace.root)
    try:
        make_warehouse(settings, leads=20)
        serving.publish(settings)  # returns while the reader still holds the old file open
        with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
            assert con.execute("select count(*) from lead_scores").fetchone()[0] == 20
    finally:
        seen = stop_reader(reader, stop)
    # the reader kept a consistent view of the version it opened, and never failed
    assert seen and set(seen) == {10}
    assert serving.read_manifest(settings.serving_dir)["row_counts"]["lead_scores"] == 20


# ------------------------------------------------- a refresh that lost its leads


def test_an_empty_mart_never_replaces_a_published_one(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=12)
    serving.publish(settings, run_id="r1")
    before = published_state(settings.serving_dir)
    make_warehouse(settings, leads=0)  # e.g. a full refresh of an empty landing folder
    for allowed_loss in ("0.5", "1"):  # even with the loss check turned off
        with pytest.raises(RuntimeError) as caught:
            serving.publish(workspace.settings(LEADSCORE_MAX_LEAD_LOSS=allowed_loss), run_id="r2")
        message = str(caught.value)
        assert "marts.lead_scores has no leads" in message
        assert "12 leads" in message and "as_of 2024-07-01 00:00:00" in message
        assert str(settings.landing_dir) in message and "LEADSCORE_LANDING_DIR" in message
        assert "\n" not in message
        assert published_state(settings.serving_dir) == before


def test_a_mart_that_lost_most_of_its_leads_is_not_published(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=100)
    serving.publish(settings)
    before = published_state(settings.serving_dir)
    make_warehouse(settings, leads=40, as_of="2024-07-02")  # 60 % lost, default allows 50 %
    with pytest.raises(RuntimeError) as caught:
        serving.publish(settings)
    message = str(caught.value)
    assert "40 leads, 60% fewer than the 100" in message
    assert "LEADSCORE_MAX_LEAD_LOSS (0.5)" in message
    assert published_state(settings.serving_dir) == before
    # the threshold is a setting: allowing 70 % publishes, then a small loss passes as usual
    serving.publish(workspace.settings(LEADSCORE_MAX_LEAD_LOSS="0.7"))
    assert serving.read_manifest(settings.serving_dir)["row_counts"]["lead_scores"] == 40
    make_warehouse(settings, leads=30, as_of="2024-07-03")
    assert serving.publish(settings).row_counts["lead_scores"] == 30


def test_the_published_as_of_is_never_null(workspace: Workspace) -> None:
    settings = workspace.settings()
    make_warehouse(settings, leads=0)  # nothing published yet: an empty mart may go out
    publication = serving.publish(settings, as_of="2024-07-01 06:00:00")
    assert publication.as_of == "2024-07-01 06:00:00"
    assert serving.read_manifest(settings.serving_dir)["as_of"] == "2024-07-01 06:00:00"
    with pytest.raises(ValueError, match="as_of"):
        serving.publish(settings)  # an empty mart and no as_of: nothing says when it is


@pytest.mark.parametrize("value", ["-0.1", "1.5", "half"])
def test_max_lead_loss_is_validated(workspace: Workspace, value: str) -> None:
    with pytest.raises(ValueError, match=f"LEADSCORE_MAX_LEAD_LOSS must be a number from 0 to 1, got '{value}'"):
        workspace.settings(LEADSCORE_MAX_LEAD_LOSS=value)
