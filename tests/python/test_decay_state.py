"""The carried decay state must give exactly what a full recompute gives.

A generated shop (2026-09-25 .. 2026-11-03) arrives day by day after a first build of its
first 33 days, and is refreshed each day at a moving as_of (the next day, 06:00), across a
month boundary (the decay anchor moves from 2026-10-01 to 2026-11-01 and the state rolls
forward), with an events file arriving late for a day before the anchor, an identity link
moved by a late file (one lead loses a history of days before the anchor, another gains
it), anonymous history of days before the anchor stitched by a link made after the
state's as_of, and a change of what the state is priced with (a var in its checksum).
After each refresh from 2026-10-30 on, each score table equals the same as_of layer rebuilt from scratch
(`--full-refresh` of every as_of model on a copy), row for row, after the rounding the
contract defines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from orchestration import pipeline
from orchestration.generator import generate
from warehouse_helpers import make_settings, query

END = dt.date(2026, 11, 3)
DAYS = 40  # 2026-09-25 .. 2026-11-03
FIRST_BUILD_DAYS = 33  # 2026-09-25 .. 2026-10-27
COMPARED_FROM = dt.date(2026, 10, 29)  # the arrival of 2026-10-29's files: as_of 2026-10-30
LATE_DAY = dt.date(2026, 10, 29)  # its events arrive with the files of 2026-11-01
COMPARED = [
    "intermediate.int_lead_spine",
    "intermediate.int_lead_rule_points",
    "intermediate.int_lead_product_views",
    "intermediate.int_lead_activity_as_of",
    "intermediate.int_lead_carts",
    "intermediate.int_lead_consents",
    "intermediate.int_lead_rule_contributions",
    "scores.demographic_scores",
    "scores.engagement_scores",
    "scores.page_intent_scores",
    "scores.purchase_scores",
    "marts.lead_scores",
    "marts.lead_category_interest",
]
#: the carried state itself: equal up to floating point (a rolled sum and a direct one)
STATES = [
    "intermediate.int_lead_rule_state",
    "intermediate.int_lead_product_state",
    "intermediate.int_lead_category_state",
    "intermediate.int_lead_store_state",
    "intermediate.int_lead_activity_state",
]
#: the history's run-to-run columns depend on the runs before, not on the as_of layer
SKIPPED = {"previous_lead_score", "previous_as_of", "score_change"}
CHANGED_VARS = '{"category_interest_action_group": "search"}'


def _day(index: int) -> dt.date:
    return END - dt.timedelta(days=DAYS - 1 - index)


def _arrive(all_files: Path, landing: Path, pattern: str) -> None:
    for path in sorted(all_files.rglob(pattern)):
        target = landing / path.relative_to(all_files)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _write_events(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("event_id,occurred_at,lead_id,anonymous_id,event_type,page_url,product_id,product_category\n"
                    + "\n".join(rows) + "\n", encoding="utf-8")


def _dbt(settings, args: list[str], as_of: str, extra_vars: str | None) -> None:
    vars_args = ["--vars", extra_vars] if extra_vars else []
    pipeline.run_dbt(settings, [*args, *vars_args], as_of=as_of, quiet=True)


def _table(settings, name: str) -> pd.DataFrame:
    frame = query(settings, f"select * from {name}")
    frame = frame.drop(columns=[c for c in frame.columns if c in SKIPPED])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _assert_equals_a_full_recompute(settings, tmp: Path, as_of: str, extra_vars: str | None) -> None:
    rebuilt = dataclasses.replace(make_settings(tmp), landing_dir=settings.landing_dir)
    shutil.copy(settings.duckdb_path, rebuilt.duckdb_path)
    _dbt(rebuilt, ["run", "--quiet", "--full-refresh", "--select", "tag:as_of"], as_of, extra_vars)
    for name in COMPARED:
        pd.testing.assert_frame_equal(_table(settings, name), _table(rebuilt, name), obj=f"{name} at {as_of}")
    for name in STATES:
        pd.testing.assert_frame_equal(_table(settings, name), _table(rebuilt, name), obj=f"{name} at {as_of}",
                                      check_exact=False, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("decay-state")
    all_files = root / "all"
    generate(all_files, leads=120, days=DAYS, seed=23, end_date=END, bad_row_share=0.0)
    return root, all_files


def test_daily_refreshes_across_an_anchor_equal_a_full_recompute(shop, tmp_path):
    _, all_files = shop
    settings = make_settings(tmp_path / "daily")
    events = settings.landing_dir / "events"
    anchors = []
    for index in range(FIRST_BUILD_DAYS - 1, DAYS):
        day = _day(index)
        if index == FIRST_BUILD_DAYS - 1:
            for first in range(FIRST_BUILD_DAYS):
                _arrive(all_files, settings.landing_dir, f"*_{_day(first):%Y-%m-%d}.*")
        elif day == LATE_DAY:
            for entity in ("leads", "orders", "campaign_sends"):
                _arrive(all_files, settings.landing_dir, f"{entity}/*_{day:%Y-%m-%d}.*")
        else:
            _arrive(all_files, settings.landing_dir, f"*_{day:%Y-%m-%d}.*")
        if day == dt.date(2026, 10, 27):
            # visitor X browses and signs in as LA; visitor Y browses anonymously and signs
            # in as LC on 2026-11-02: Y's history counts from as_of 2026-11-03 on, with no
            # new file then (the state must notice links made since its own as_of and merge
            # them with what it carries of LC's own views)
            _write_events(events / "links_1.csv", [
                "x1,2026-10-26T09:00:00Z,,X,product_view,/products/p-x,p-x,shoes",
                "x2,2026-10-27T09:00:00Z,,X,product_view,/products/p-x,p-x,shoes",
                "x3,2026-10-27T10:00:00Z,LA,X,login,,,",
                "y1,2026-10-26T09:00:00Z,,Y,product_view,/products/p-y,p-y,bags",
                "y2,2026-10-27T09:00:00Z,,Y,add_to_cart,/products/p-y,p-y,bags",
                "b1,2026-10-27T11:00:00Z,LB,,page_view,/,,",
                "y3,2026-11-02T10:00:00Z,LC,Y,login,,,",
                "c1,2026-10-20T09:00:00Z,LC,,product_view,/products/p-y,p-y,bags",
            ])
        if day == dt.date(2026, 11, 1):
            _arrive(all_files, settings.landing_dir, f"events/*_{LATE_DAY:%Y-%m-%d}.*")
        if day == dt.date(2026, 11, 2):
            # a late file: X had signed in as LB first, so X's history (before the anchor)
            # moves from LA to LB
            _write_events(events / "links_2.csv", ["x0,2026-10-25T08:00:00Z,LB,X,login,,,"])
        as_of = f"{day + dt.timedelta(days=1):%Y-%m-%d} 06:00:00"
        extra_vars = CHANGED_VARS if day == END else None
        pipeline.load_landing(settings)
        _dbt(settings, ["build", "--quiet", "--exclude-resource-type", "unit_test", "test"], as_of, extra_vars)
        anchors.append(query(settings, "select distinct anchor_date from intermediate.int_lead_rule_state")
                       ["anchor_date"].astype(str).tolist())
        if day >= COMPARED_FROM:
            _assert_equals_a_full_recompute(settings, tmp_path / f"rebuilt-{index}", as_of, extra_vars)

    # the state really moved with as_of: October's anchor, then November's
    assert anchors[0] == ["2026-10-01"] and anchors[-1] == ["2026-11-01"]
    # the moved link: LB has X's product views, LA none; LC has Y's (linked after the
    # state was first built)
    views = query(settings, "select lead_id, product_id, view_days from intermediate.int_lead_product_views "
                            "where product_id in ('p-x', 'p-y') order by lead_id, product_id")
    assert views.to_dict("records") == [
        {"lead_id": "LB", "product_id": "p-x", "view_days": 2},
        {"lead_id": "LC", "product_id": "p-y", "view_days": 2},
    ]


def test_a_backtest_at_an_earlier_as_of_rebuilds_the_state(shop, tmp_path):
    # an as_of before the state's own (a backtest on a copy) must not reuse the state
    _, all_files = shop
    settings = make_settings(tmp_path / "back")
    shutil.copytree(all_files, settings.landing_dir, dirs_exist_ok=True)
    pipeline.load_landing(settings)
    late, early = "2026-11-04 00:00:00", "2026-10-29 12:00:00"
    _dbt(settings, ["build", "--quiet", "--exclude-resource-type", "unit_test", "test"], late, None)
    _dbt(settings, ["run", "--quiet", "--select", "tag:as_of", "--exclude", "lead_score_history"], early, None)
    assert query(settings, "select distinct anchor_date from intermediate.int_lead_rule_state")[
        "anchor_date"].astype(str).tolist() == ["2026-10-01"]
    _assert_equals_a_full_recompute(settings, tmp_path / "rebuilt", early, None)
    # before the first day of the data the rebuilt state is empty: nothing of a later as_of
    # may stay (a training snapshot there once scored leads from their future)
    _dbt(settings, ["run", "--quiet", "--select", "tag:as_of", "--exclude", "lead_score_history"],
         "2026-09-20 00:00:00", None)
    for name in STATES:
        assert query(settings, f"select count(*) as n from {name}")["n"].iloc[0] == 0, name
    assert query(settings, "select count(*) as n from intermediate.int_lead_spine "
                           "where has_events")["n"].iloc[0] == 0
