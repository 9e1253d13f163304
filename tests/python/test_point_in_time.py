"""as_of invariance: scores at X with later data present equal scores from the data cut at X.

One generated shop (profiles, events, orders, bad rows included) is delivered day by day:
each day's files are loaded at the start of the next day (UTC), so every row's load time
(`_loaded_at`) is when it was really delivered. Two warehouses are scored at the same past
instant X (mid-day, so the as_of day is split):

- **full**: every file, the days after X included;
- **cut**: what existed at X. A row with a timestamp is kept when that timestamp is before
  X (events by `occurred_at`; lead versions by `updated_at`, else `created_at`; orders by
  `ordered_at` and their versions by `updated_at`), whichever file brought it; a row without
  one (a profile version with neither timestamp, a row whose timestamp does not parse) is
  kept when its file was delivered before X. Files keep their delivery day in both.

Every score table (models/scores/*_scores and marts.lead_scores without the columns that
compare with the scoring history) must be identical. Added on purpose: profile versions
without timestamps before and after X, and an order placed before X whose only version is
stamped after it.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import landing, pipeline
from orchestration.generator import generate
from warehouse_helpers import GENERATED_END, make_settings, query

DAYS = 16
AS_OF = dt.datetime(2026, 10, 26, 13, 30)  # mid-day: the as_of day is cut in two
SCORE_TABLES = [
    "scores.demographic_scores",
    "scores.engagement_scores",
    "scores.page_intent_scores",
    "scores.purchase_scores",
    "marts.lead_scores",
]
#: Columns that compare with earlier scorings (lead_score_history), not with the data.
HISTORY_COLUMNS = {"score_change", "previous_lead_score", "previous_as_of"}
#: Looked at when a score differs, to say where the difference starts.
DIAGNOSTIC_TABLES = [
    "intermediate.int_lead_spine",
    "intermediate.int_lead_profiles_as_of",
    "intermediate.int_orders_as_of",
    "intermediate.int_lead_signals_as_of",
]
#: Per entity: the columns whose times must all be before X for a row to exist at X
#: (the first present one of each group).
ROW_TIMES: dict[str, list[tuple[str, ...]]] = {
    "events": [("occurred_at",)],
    "leads": [("updated_at", "created_at")],
    "orders": [("ordered_at",), ("updated_at", "ordered_at")],
}
DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _parse(text) -> dt.datetime | None | str:
    """UTC naive datetime; None when absent; 'bad' when present but not ISO-8601."""
    if text is None or str(text).strip() == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        return "bad"
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _exists_at(entity: str, row: dict, delivered_at: dt.datetime, cut: dt.datetime) -> bool:
    """Whether a landing row was known at `cut` (see the module docstring)."""
    for group in ROW_TIMES[entity]:
        times = [_parse(row.get(column)) for column in group]
        first = next((t for t in times if t is not None), None)
        if first is None:
            continue  # no time of this kind: judged by delivery below
        if first == "bad":
            return delivered_at <= cut
        if first >= cut:
            return False
    has_any_time = any(_parse(row.get(c)) is not None for group in ROW_TIMES[entity] for c in group)
    return has_any_time or delivered_at <= cut


def _cut_file(entity: str, source: Path, target: Path, delivered_at: dt.datetime, cut: dt.datetime) -> None:
    """Copy a landing file keeping only the rows known at `cut`, in its own format."""
    target.parent.mkdir(parents=True, exist_ok=True)
    keep: Callable[[dict], bool] = lambda row: _exists_at(entity, row, delivered_at, cut)  # noqa: E731
    name = source.name
    if name.endswith(".parquet"):
        table = pq.read_table(source)
        mask = [keep(row) for row in table.to_pylist()]
        pq.write_table(table.filter(pa.array(mask)), target)
    elif name.endswith(".jsonl"):
        lines = source.read_text().splitlines(keepends=True)
        target.write_text("".join(line for line in lines if keep(json.loads(line))))
    elif name.endswith(".csv.gz") or name.endswith(".csv"):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(source, "rt", newline="") as handle:
            lines = handle.read().splitlines(keepends=True)
        header = next(csv.reader([lines[0]]))
        kept = [line for line in lines[1:] if keep(dict(zip(header, next(csv.reader([line])))))]
        with opener(target, "wt", newline="") as handle:
            handle.write("".join([lines[0], *kept]))
    else:  # pragma: no cover - the generator writes only these
        raise AssertionError(f"unexpected landing file {source}")


def _add_profile_versions_without_timestamps(all_files: Path) -> None:
    """CRM exports without created_at / updated_at, delivered before and after X: a lead
    known only from them (one before X, one after), and versions of generated leads."""
    first_file = sorted((all_files / "leads").glob("*.csv.gz"))[0]
    with gzip.open(first_file, "rt", newline="") as handle:
        generated = list(csv.DictReader(handle))
    known = [row for row in generated if row["lead_id"] and row["updated_at"].endswith("Z")][:3]
    columns = list(landing.CONTRACT["leads"])

    def crm_file(day: str, rows: list[dict]) -> None:
        path = all_files / "leads" / f"leads_{day}_crm.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "created_at": "", "updated_at": ""})

    berlin = {"city": "Berlin", "postal_code": "10115", "country_code": "DE", "latitude": "52.53", "longitude": "13.38"}
    before_day = (AS_OF - dt.timedelta(days=3)).strftime("%Y-%m-%d")
    after_day = (AS_OF + dt.timedelta(days=2)).strftime("%Y-%m-%d")
    crm_file(before_day, [
        {**known[0], "lead_id": "LCRM-BEFORE", "email": "before@example.com"},
        {**known[1], **berlin},
    ])
    crm_file(after_day, [
        {**known[0], "lead_id": "LCRM-AFTER", "email": "after@example.com"},
        {**known[1], "city": "Wien", "country_code": "AT", "latitude": "48.20", "longitude": "16.35"},
        {**known[2], **berlin, "birth_date": "1950-01-01", "marketing_consent": "false"},
    ])


def _add_order_stamped_after_x(all_files: Path) -> None:
    """An order placed just before X whose only version is stamped after X (the payment
    cleared later), delivered the next day: at X no row of it could have been delivered."""
    order = json.loads(sorted((all_files / "orders").glob("*.jsonl"))[0].read_text().splitlines()[0])
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    late = {**order, "order_id": "o-paid-after-x", "ordered_at": stamp(AS_OF - dt.timedelta(minutes=5)),
            "updated_at": stamp(AS_OF + dt.timedelta(hours=2)), "status": "completed"}
    path = all_files / "orders" / f"orders_{AS_OF.date().isoformat()}_payments.jsonl"
    path.write_text(json.dumps(late) + "\n")


def _delivery_days(all_files: Path) -> dict[dt.date, list[Path]]:
    days: dict[dt.date, list[Path]] = {}
    for path in sorted(p for p in all_files.rglob("*") if p.is_file()):
        match = DAY_IN_NAME.search(path.name)
        assert match, path
        days.setdefault(dt.date.fromisoformat(match.group(1)), []).append(path)
    return dict(sorted(days.items()))


def _deliver_and_build(settings, all_files: Path, cut: dt.datetime | None) -> None:
    """Load day by day, each day's files at the start of the next day (UTC); with `cut`,
    only what was known at `cut`. Then build every model at X."""
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    with closing(pipeline.connect(settings)) as con:
        for day, paths in _delivery_days(all_files).items():
            delivered_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
            for path in paths:
                target = settings.landing_dir / path.relative_to(all_files)
                if cut is None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, target)
                else:
                    _cut_file(target.parent.name, path, target, delivered_at, cut)
            landing.load(con, settings.landing_dir, now=delivered_at)
    pipeline.run_dbt(settings, ["build", "--quiet", "--exclude-resource-type", "unit_test", "test"],
                     as_of=AS_OF.isoformat(sep=" "), quiet=True)


@pytest.fixture(scope="module")
def full_and_cut(tmp_path_factory):
    root = tmp_path_factory.mktemp("point-in-time")
    all_files = root / "all"
    generate(all_files, leads=250, days=DAYS, seed=23, end_date=GENERATED_END, bad_row_share=0.02)
    _add_profile_versions_without_timestamps(all_files)
    _add_order_stamped_after_x(all_files)
    full, cut = make_settings(root / "full"), make_settings(root / "cut")
    _deliver_and_build(full, all_files, None)
    _deliver_and_build(cut, all_files, AS_OF)
    return full, cut


def _table(settings, name: str) -> pd.DataFrame:
    frame = query(settings, f"select * from {name}")
    frame = frame.drop(columns=[c for c in frame.columns if c in HISTORY_COLUMNS])
    return frame.sort_values("lead_id").reset_index(drop=True)


def _differences(full: pd.DataFrame, cut: pd.DataFrame) -> str:
    merged = full.merge(cut, on="lead_id", how="outer", suffixes=("_full", "_cut"), indicator=True)
    lines = []
    only_full = merged.loc[merged["_merge"] == "left_only", "lead_id"].tolist()
    only_cut = merged.loc[merged["_merge"] == "right_only", "lead_id"].tolist()
    if only_full:
        lines.append(f"{len(only_full)} lead(s) only with later data present: {only_full[:10]}")
    if only_cut:
        lines.append(f"{len(only_cut)} lead(s) only in the cut data: {only_cut[:10]}")
    both = merged[merged["_merge"] == "both"]
    for column in [c for c in full.columns if c != "lead_id"]:
        a, b = both[f"{column}_full"], both[f"{column}_cut"]
        differ = ~((a == b) | (a.isna() & b.isna()))
        if differ.any():
            sample = both.loc[differ, ["lead_id", f"{column}_full", f"{column}_cut"]].head(5)
            lines.append(f"{column}: {int(differ.sum())} lead(s) differ, e.g.\n{sample.to_string(index=False)}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", SCORE_TABLES)
def test_scores_at_x_ignore_data_after_x(full_and_cut, name):
    full, cut = full_and_cut
    found = _differences(_table(full, name), _table(cut, name))
    if found:
        hints = {t: _differences(_table(full, t), _table(cut, t)) for t in DIAGNOSTIC_TABLES
                 if t != "intermediate.int_orders_as_of" and t != "intermediate.int_lead_signals_as_of"}
        pytest.fail(f"{name} at {AS_OF} differs with later data present:\n{found}\n\n"
                    + "\n".join(f"[{t}]\n{h}" for t, h in hints.items() if h))


def test_the_test_sees_data_after_x(full_and_cut):
    """The full warehouse really holds later data, and the shop has all three entities."""
    full, cut = full_and_cut
    for entity, column in [("events", "occurred_at"), ("orders", "ordered_at"), ("leads", "updated_at")]:
        later = query(full, f"select count(*) as n from landing.{entity} where try_cast({column} as timestamptz) >= ?",
                      [AS_OF.isoformat(sep=" ") + "+00"])
        assert later["n"].iloc[0] > 0, entity
    assert query(cut, "select count(*) as n from marts.lead_scores")["n"].iloc[0] > 100
    # the profile versions without timestamps are in both warehouses' landing tables
    for settings in (full, cut):
        crm = query(settings, "select count(*) as n from landing.leads where _source_file like '%crm%'")
        assert crm["n"].iloc[0] >= 2


def test_full_refresh_keeps_when_each_file_was_first_loaded(tmp_path):
    """_loaded_at dates profile versions without timestamps: reloading a file (full
    refresh) must not make its data newer than when its content was first delivered."""
    folder = tmp_path / "landing" / "leads"
    folder.mkdir(parents=True)
    t1, t2, t3 = (dt.datetime(2026, 10, day) for day in (1, 2, 3))
    (folder / "crm_1.csv").write_text("lead_id,city\nL1,Berlin\n")
    (folder / "crm_3.csv").write_text("lead_id,city\nL3,Bonn\n")
    with closing(duckdb.connect(str(tmp_path / "w.duckdb"))) as con:
        landing.load(con, tmp_path / "landing", now=t1)
        (folder / "crm_2.csv").write_text("lead_id,city\nL2,Essen\n")
        (folder / "crm_3.csv").write_text("lead_id,city\nL3,Ulm\n")  # re-delivered, new content
        landing.load(con, tmp_path / "landing", now=t2)
        for refresh_at in (t3, t3 + dt.timedelta(days=1)):
            landing.load(con, tmp_path / "landing", full_refresh=True, now=refresh_at)
            rows = con.execute("select city, _loaded_at from landing.leads order by city").fetchall()
            assert rows == [("Berlin", t1), ("Essen", t2), ("Ulm", t2)]


def test_a_new_as_of_keeps_dbt_partial_parsing_and_reaches_the_sql(tmp_path):
    """as_of reaches dbt by the environment: a refresh at a new as_of re-parses only the
    files that read it (a changed --vars re-parses the whole project every run)."""
    settings = make_settings(tmp_path)
    target = tmp_path / "target"
    first = pipeline.run_dbt(settings, ["parse", "--target-path", str(target)],
                             as_of="2026-10-01 00:00:00", quiet=True)
    assert "Unable to do partial parsing because saved manifest not found" in first.stdout
    second = pipeline.run_dbt(
        settings, ["compile", "--target-path", str(target), "--select", "int_orders_as_of"],
        as_of="2026-10-02 06:30:00", quiet=True)
    assert "Unable to do partial parsing" not in second.stdout, second.stdout
    compiled = next(target.rglob("int_orders_as_of.sql")).read_text(encoding="utf-8")
    assert "'2026-10-02 06:30:00'" in compiled
    assert "2026-10-01" not in compiled
