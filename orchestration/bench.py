"""``leadscore bench --scale small|medium|large``: measure generation, a full build and a
one-day incremental refresh, each as its own process tree, and write the numbers.

Each phase runs the real command in a subprocess (``leadscore generate`` / ``leadscore
run``) against a work folder under ``bench/work/<scale>`` and is timed from outside:
wall time, rows per second, and the peak resident memory of the whole process tree
(sampled every 100 ms with psutil: the command, dbt and everything they start). The
incremental phase writes the files of the day after the full build's data (exactly the
files a full generation would have written for that day) and refreshes.

Results: ``bench/results/<scale>-<date>.json`` and ``.md`` (a markdown table), plus the
slowest dbt models of each build from dbt's run_results.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from orchestration.config import PROJECT_ROOT

SCALES: dict[str, dict[str, int]] = {
    # about 1M events
    "small": {"leads": 20_000, "days": 90},
    # about 10M events, 200k leads
    "medium": {"leads": 200_000, "days": 80},
    # about 100M events, 2M leads
    "large": {"leads": 2_000_000, "days": 80},
}
END_DATE = dt.date(2026, 10, 31)


@dataclass
class Phase:
    name: str
    command: list[str]
    wall_seconds: float = 0.0
    peak_rss_bytes: int = 0
    rows: int = 0
    rows_per_second: float = 0.0
    exit_code: int = 0
    slowest_models: list[tuple[str, float]] = field(default_factory=list)
    dbt_seconds: float = 0.0  # the dbt build's own elapsed time (run_results.json)
    steps: dict[str, float] = field(default_factory=dict)  # Dagster step -> seconds


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        procs = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(phase: Phase, env: dict[str, str], log: Path) -> Phase:
    """Run the phase's command; time it and sample the process tree's memory."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(phase.command, cwd=PROJECT_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        handle = psutil.Process(proc.pid)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(handle))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        phase.exit_code = proc.wait()
        stop.set()
        sampler.join()
    phase.wall_seconds = round(time.perf_counter() - started, 2)
    phase.peak_rss_bytes = peak
    if phase.exit_code != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"{phase.name} failed (exit {phase.exit_code}), see {log}:\n{tail}")
    return phase


def _landing_rows(landing: Path, since: float = 0.0) -> int:
    """Rows in the landing files modified after `since` (fast: Parquet metadata, CSV/JSON lines)."""
    import pyarrow.parquet as pq
    import gzip

    total = 0
    for path in landing.rglob("*"):
        if not path.is_file() or path.stat().st_mtime < since:
            continue
        if path.suffix == ".parquet":
            total += pq.ParquetFile(path).metadata.num_rows
        elif path.name.endswith(".gz"):
            with gzip.open(path, "rt") as handle:
                total += sum(1 for _ in handle) - (1 if ".csv" in path.name else 0)
        else:
            with path.open() as handle:
                total += sum(1 for _ in handle) - (1 if path.suffix == ".csv" else 0)
    return total


STEP_LINE = re.compile(r"^Refresh run \S+ succeeded in [\d.]+ s \((?P<steps>.*)\)\.$", re.M)


def _step_seconds(log: Path) -> dict[str, float]:
    """The Dagster step times `leadscore run` printed (landing, dbt_models, gates, export)."""
    match = STEP_LINE.search(log.read_text(errors="replace")) if log.exists() else None
    if not match:
        return {}
    steps = {}
    for part in match.group("steps").split(", "):
        name, _, seconds = part.rpartition(" ")[0].rpartition(" ")
        steps[name] = float(seconds)
    return steps


def _dbt_timings(phase: Phase, target_dirs: list[Path], since: float, top: int = 8) -> None:
    """The dbt steps' elapsed time and their slowest models, from every run_results.json
    the phase wrote (a refresh runs dbt more than once: the models, then the marts)."""
    candidates = {p.resolve() for d in target_dirs if d.exists() for p in d.rglob("run_results.json")
                  if p.stat().st_mtime >= since}
    timings: list[tuple[str, float]] = []
    elapsed = 0.0
    invocations: set[str] = set()
    for path in sorted(candidates):
        run_results = json.loads(path.read_text())
        invocation = run_results.get("metadata", {}).get("invocation_id") or str(path)
        if invocation in invocations:  # the same dbt command seen through two folders
            continue
        invocations.add(invocation)
        timings += [(r["unique_id"].split(".")[-1], round(r["execution_time"], 2))
                    for r in run_results["results"] if r["unique_id"].startswith("model.")]
        elapsed += float(run_results.get("elapsed_time", 0.0))
    if not candidates:
        return
    phase.slowest_models = sorted(timings, key=lambda t: -t[1])[:top]
    phase.dbt_seconds = round(elapsed, 1)


def _training_figures(log: Path) -> dict[str, float]:
    """Rows, snapshots and seconds per snapshot from `leadscore train`'s report."""
    text = log.read_text() if log.exists() else ""
    figures: dict[str, float] = {}
    rows = re.search(r"rows ([\d,]+), positives ([\d,]+).*?; ([\d.]+) s per snapshot", text)
    if rows:
        figures["training rows"] = float(rows.group(1).replace(",", ""))
        figures["positives"] = float(rows.group(2).replace(",", ""))
        figures["seconds per snapshot"] = float(rows.group(3))
    snapshots = re.search(r"snapshots: train ([^;]*); validation (.*)", text)
    if snapshots:
        figures["snapshots"] = float(sum(len([d for d in part.split(",") if d.strip()])
                                         for part in snapshots.groups()))
    return figures


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def bench(scale: str, work_root: Path | None = None, results_dir: Path | None = None,
          keep: bool = False, days: int | None = None, predictive: bool = False,
          end_date: dt.date | None = None) -> dict[str, object]:
    """Measure the scale's phases; ``days`` overrides its days of history, ``end_date`` the
    as_of of the one-day refresh minus a day (the default, 2026-10-31, makes that refresh
    the first of a month: the decay state rolls forward; a mid-month date measures an
    ordinary day), ``predictive``
    adds training (`leadscore train` at the refreshed as_of) and scoring (`leadscore
    predict`) after the refresh."""
    end_date = end_date or END_DATE
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    size = dict(SCALES[scale])
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or days < 2:
            raise ValueError(f"--days must be a whole number, at least 2, got {days!r}")
        size["days"] = days
    work = (work_root or PROJECT_ROOT / "bench" / "work") / scale
    results_dir = results_dir or PROJECT_ROOT / "bench" / "results"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    landing = work / "landing"
    env = {
        **os.environ,
        "LEADSCORE_LANDING_DIR": str(landing),
        "LEADSCORE_DUCKDB_PATH": str(work / "warehouse.duckdb"),
        "LEADSCORE_SERVING_DIR": str(work / "serving"),
        "LEADSCORE_GX_DOCS_DIR": str(work / "gx_docs"),
        "LEADSCORE_DUCKDB_TEMP_DIR": str(work / "tmp"),
        # the builds are measured as before; training (`leadscore train`) is its own cost
        "LEADSCORE_TRAIN_IF_MISSING": "false",
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("DAGSTER_HOME", None)
    leadscore = str(Path(sys.executable).with_name("leadscore"))
    days = size["days"]
    first_build_day = end_date - dt.timedelta(days=1)  # the data ends a day before end_date
    gen_args = ["--out", str(landing), "--leads", str(size["leads"]), "--days", str(days),
                "--seed", "42", "--end-date", end_date.isoformat()]
    phases: list[Phase] = []

    generation = run_measured(
        Phase("generate", [leadscore, "generate", *gen_args, "--day-range", f"0:{days - 1}"]),
        env, work / "generate.log")
    generation.rows = _landing_rows(landing)
    phases.append(generation)

    since = time.time()
    full = run_measured(
        Phase("full build", [leadscore, "run", "--full-refresh", "--as-of",
                             (first_build_day + dt.timedelta(days=1)).isoformat()]),
        env, work / "full.log")
    full.rows = generation.rows
    _dbt_timings(full, [work / "target", work, PROJECT_ROOT / "target"], since)
    full.steps = _step_seconds(work / "full.log")
    phases.append(full)

    since = time.time()
    run_measured(Phase("generate next day", [leadscore, "generate", *gen_args, "--day-range",
                                             f"{days - 1}:{days}"]), env, work / "generate-day.log")
    new_rows = _landing_rows(landing, since=since - 1)
    since = time.time()
    incremental = run_measured(
        Phase("one-day incremental refresh", [leadscore, "run", "--as-of",
                                              (end_date + dt.timedelta(days=1)).isoformat()]),
        env, work / "incremental.log")
    incremental.rows = new_rows
    _dbt_timings(incremental, [work / "target", work, PROJECT_ROOT / "target"], since)
    incremental.steps = _step_seconds(work / "incremental.log")
    phases.append(incremental)

    if predictive:
        # training takes the warehouse's latest as_of; its snapshots are one dbt run each
        training = run_measured(Phase("train (leadscore train)", [leadscore, "train"]),
                                env, work / "train.log")
        training.steps = _training_figures(work / "train.log")
        phases.append(training)
        scoring = run_measured(Phase("score (leadscore predict)", [leadscore, "predict"]),
                               env, work / "predict.log")
        phases.append(scoring)

    for phase in phases:
        phase.rows_per_second = round(phase.rows / phase.wall_seconds, 1) if phase.wall_seconds else 0.0

    today = dt.date.today().isoformat()
    result = {
        "scale": scale,
        "date": today,
        "leads": size["leads"],
        "days": days,
        "refresh_as_of": (end_date + dt.timedelta(days=1)).isoformat(),
        "machine": machine(),
        "duckdb_memory_limit": env.get("LEADSCORE_DUCKDB_MEMORY_LIMIT", "8GB"),
        "incremental_share_of_full": round(incremental.wall_seconds / full.wall_seconds, 3),
        "phases": [asdict(p) for p in phases],
    }
    name = f"{scale}-{today}"
    if size["days"] != SCALES[scale]["days"] or end_date != END_DATE:
        name += f"-{days}d-refresh-{end_date + dt.timedelta(days=1):%m%d}"
    (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2))
    (results_dir / f"{name}.md").write_text(markdown(result))
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return result


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"### {result['scale']} ({result['leads']:,} leads, {result['days']} days"
        + (f", refresh at {result['refresh_as_of']}" if result.get("refresh_as_of") else "")
        + f") — {result['date']}",
        "",
        f"Machine: {m['cpus']} cores, {m['memory_gib']} GiB, Python {m['python']}; "
        f"DuckDB memory_limit {result['duckdb_memory_limit']}.",
        "",
        "| phase | wall time | of which dbt build | rows | rows / s | peak memory (process tree) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in result["phases"]:
        dbt_seconds = f"{p['dbt_seconds']:.1f} s" if p.get("dbt_seconds") else "-"
        lines.append(
            f"| {p['name']} | {p['wall_seconds']:.1f} s | {dbt_seconds} | {p['rows']:,} | "
            f"{p['rows_per_second']:,.0f} | {p['peak_rss_bytes'] / 2**30:.2f} GiB |"
        )
    lines += ["", f"One-day refresh / full build: {result['incremental_share_of_full']:.1%}."]
    for p in result["phases"]:
        if p["slowest_models"]:
            slow = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in p["slowest_models"][:5])
            lines.append(f"Slowest dbt models, {p['name']}: {slow}.")
    for p in result["phases"]:
        if p.get("steps") and p["name"].startswith("train"):
            figures = p["steps"]
            lines.append("Training: " + ", ".join(f"{name} {value:,g}"
                                                  for name, value in figures.items()) + ".")
        elif p.get("steps"):
            steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in p["steps"].items())
            lines.append(f"Dagster steps, {p['name']}: {steps}.")
    return "\n".join(lines) + "\n"
