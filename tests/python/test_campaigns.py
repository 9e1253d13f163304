"""Campaigns: audiences (consent, cooldown, control groups), their CSV exports, the
campaign_sends landing entity and the measured uplift against the generator's truth."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import duckdb
import pytest
from warehouse_helpers import GENERATED_AS_OF, GENERATED_END, build_warehouse, make_settings, query

from orchestration import audiences, pipeline, serving
from orchestration.config import Settings
from orchestration.generator import generate
from orchestration.generator.campaigns import CAMPAIGN_ID, campaign_truth, control_unit
from orchestration.generator.world import build_world

#: Large enough that each weekly control group has a few hundred leads (the 95 % interval
#: of the pooled uplift is about +/- 3 points), small enough to build in about a minute.
SHOP = {"leads": 5000, "days": 60, "seed": 5}

#: Bad send rows: one per quarantine reason of campaign_sends (plus a conflicting copy).
HOSTILE_SENDS = """lead_id,campaign_id,sent_at,channel,is_control
L000001,,2026-10-20T09:00:00Z,email,false
,weekly_newsletter,2026-10-20T09:00:00Z,email,false
L000001,weekly_newsletter,yesterday,email,false
L000001,weekly_newsletter,2026-10-20T09:00:00Z,fax,false
L000001,weekly_newsletter,2026-10-20T09:00:00Z,email,maybe
L000001,weekly_newsletter,2099-01-01T00:00:00Z,email,false
L000002,=cmd|' /C calc'!A0,2026-10-21T09:00:00Z,email,false
L000002,=cmd|' /C calc'!A0,2026-10-21T09:00:00Z,email,false
L000003,weekly_newsletter,2026-10-21T10:00:00Z,email,false
L000003,weekly_newsletter,2026-10-21T10:00:00Z,ads,false
"""
EXPECTED_REASONS = {
    "missing_id": 1, "missing_lead_id": 1, "unparseable_timestamp": 1, "unknown_channel": 1,
    "unparseable_flag": 1, "future_timestamp": 1, "exact_redelivery": 1, "conflicting_redelivery": 1,
}


@pytest.fixture(scope="module")
def campaign_shop(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("campaigns"))
    generate(settings.landing_dir, end_date=GENERATED_END, **SHOP)
    (settings.landing_dir / "campaign_sends" / "zz_hostile.csv").write_text(HOSTILE_SENDS, encoding="utf-8")
    build_warehouse(settings, GENERATED_AS_OF)
    return settings


def test_uplift_interval_covers_the_generators_truth(campaign_shop: Settings) -> None:
    world = build_world(SHOP["seed"], SHOP["leads"], SHOP["days"], GENERATED_END)
    world.campaign_uplift = 0.03
    truth = campaign_truth(world)
    row = query(campaign_shop, "select * from marts.campaign_results where is_overall "
                "and campaign_id = ?", [CAMPAIGN_ID]).iloc[0]
    # the mart counts exactly the generator's sends of the closed weeks ...
    assert (row.treated_leads, row.control_leads) == (truth.treated, truth.control)
    # ... and its 95 % interval covers the realised effect, without being vacuous
    assert row.uplift_ci_low <= truth.uplift <= row.uplift_ci_high, (truth, row.to_dict())
    assert row.uplift_ci_high - row.uplift_ci_low < 0.08
    open_weeks = query(campaign_shop, "select send_week from marts.campaign_results "
                       "where campaign_id = ? and not is_horizon_closed order by 1", [CAMPAIGN_ID])
    # sends of 2026-10-20 and 2026-10-27 end their 14 days after as_of 2026-11-01
    assert [str(w)[:10] for w in open_weeks.send_week] == ["2026-10-19", "2026-10-26"]


def test_bad_send_rows_are_quarantined_with_their_reason(campaign_shop: Settings) -> None:
    found = query(campaign_shop, "select reason, count(*) as n from quarantine.quarantined_rows "
                  "where entity = 'campaign_sends' and source_file like '%zz_hostile.csv' group by 1")
    assert dict(zip(found.reason, found.n)) == EXPECTED_REASONS
    counts = query(campaign_shop, """
        select (select count(*) from landing.campaign_sends) as landed,
               (select count(*) from staging.stg_landing__campaign_sends) as staged,
               (select count(*) from quarantine.quarantined_rows where entity = 'campaign_sends') as quarantined
    """).iloc[0]
    assert counts.landed == counts.staged + counts.quarantined


def test_audiences_respect_consent_and_cooldown(campaign_shop: Settings) -> None:
    by_channel = query(campaign_shop, """
        select audiences.channel,
               count(*) as leads,
               count(*) filter (where not scores.is_contactable) as not_contactable,
               count(*) filter (where not scores.has_marketing_consent) as without_consent
        from marts.campaign_audiences as audiences
        inner join marts.lead_scores as scores using (lead_id)
        group by 1
    """).set_index("channel")
    assert by_channel.loc["email", "leads"] > 100
    assert by_channel.loc[["email", "sales"], "not_contactable"].sum() == 0
    assert by_channel["without_consent"].sum() == 0
    cooling = query(campaign_shop, """
        select count(distinct lead_id) as cooling,
               count(distinct lead_id) filter (where lead_id in (
                   select lead_id from marts.campaign_audiences where campaign_id = ?)) as in_audience
        from staging.stg_landing__campaign_sends
        where campaign_id = ? and sent_at >= timestamp '2026-10-25' and sent_at < timestamp '2026-11-01'
    """, [CAMPAIGN_ID, CAMPAIGN_ID]).iloc[0]
    assert cooling.cooling > 100  # the generator's send of 2026-10-27 is within the 7 days
    assert cooling.in_audience == 0


def test_control_group_is_stable_across_runs_and_near_its_share(campaign_shop: Settings) -> None:
    def audience() -> dict[tuple[str, str], bool]:
        rows = query(campaign_shop, "select campaign_id, lead_id, is_control from marts.campaign_audiences")
        return {(c, lead): bool(k) for c, lead, k in zip(rows.campaign_id, rows.lead_id, rows.is_control)}

    first = audience()
    shares = query(campaign_shop, "select campaign_id, control_share from rules.campaigns")
    share = dict(zip(shares.campaign_id, shares.control_share))
    # the engine's hash is the documented one (Python's md5 gives the same groups)
    assert all(k == (control_unit(c, lead) < share[c]) for (c, lead), k in first.items())
    expected = sum(share[c] for c, _ in first)
    sd = (sum(share[c] * (1 - share[c]) for c, _ in first)) ** 0.5
    assert abs(sum(first.values()) - expected) < 4 * sd
    # a later run (as_of a week later: other leads, other cooldowns) keeps every lead's group
    pipeline.run_dbt(campaign_shop, ["run", "--quiet", "--select", "campaign_audiences"],
                     as_of="2026-11-08", quiet=True)
    second = audience()
    common = first.keys() & second.keys()
    try:
        assert len(common) > 100
        assert all(first[key] == second[key] for key in common)
    finally:  # the module's other tests read the as_of 2026-11-01 audiences
        pipeline.run_dbt(campaign_shop, ["run", "--quiet", "--select", "campaign_audiences"],
                         as_of=GENERATED_AS_OF, quiet=True)


HOSTILE = [
    ("=HYPERLINK(\"http://evil\")", "../../etc/passwd", "email", "+SUM(A1)", 10),
    ("-1+1", "Cart Reminder", "email", "@import", 20),
    ("\tL9", "cart reminder", "ads", "\rwhy", 30),
    ("L10", "ok_id", "sales", "plain text, with a comma and \"quotes\"", 40),
]


def test_audience_csv_cells_are_neutralised_and_file_names_safe(tmp_path: Path) -> None:
    with contextlib.closing(duckdb.connect()) as con:
        con.execute("create table a (lead_id varchar, campaign_id varchar, channel varchar, why varchar, "
                    "priority integer, as_of timestamp, is_control boolean)")
        for lead, campaign, channel, why, priority in HOSTILE:
            con.execute("insert into a values (?, ?, ?, ?, ?, timestamp '2026-11-01', false)",
                        [lead, campaign, channel, why, priority])
        con.execute("insert into a values ('=1+2', 'ok_id', 'email', 'control', 1, timestamp '2026-11-01', true)")
        folder = tmp_path / "audiences"
        exports = audiences.write_exports(con, "a", folder)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert all(folder in p.parents for p in files)  # nothing escaped the folder
    assert len({exports[c]["file"].lower() for c in exports}) == len(exports) == 4  # no two share a file
    assert exports["ok_id"]["file"] == "audiences/ok_id.csv"  # safe ids keep their name
    cells = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == list(audiences.COLUMNS)
        cells += [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    for lead, campaign, _, why, _ in HOSTILE:
        for value in (lead, campaign, why):
            assert (("'" + value) if value[:1] in "=+-@\t\r" else value) in cells
    control = (folder / "control" / "ok_id.csv").read_text(encoding="utf-8")
    assert "'=1+2" in control and "'=1+2" not in (folder / "ok_id.csv").read_text(encoding="utf-8")


def test_a_shop_without_campaign_sends_still_publishes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "no_sends")
    generate(settings.landing_dir, leads=200, days=15, seed=3, end_date=GENERATED_END, campaign_uplift=None)
    assert not (settings.landing_dir / "campaign_sends").exists()
    build_warehouse(settings, GENERATED_AS_OF)
    publication = serving.publish(settings, as_of=GENERATED_AS_OF)
    assert publication.row_counts["campaign_results"] == 0
    assert publication.row_counts["campaign_audiences"] > 0
    assert sum(a["rows"] + a["control_rows"] for a in publication.audiences.values()) == \
        publication.row_counts["campaign_audiences"]
    link = settings.serving_dir / "audiences"
    assert link.is_symlink()
    first_version = link.resolve()
    # a second publish swaps the whole folder and removes the version nobody can reach
    serving.publish(settings, as_of=GENERATED_AS_OF)
    assert link.resolve() != first_version and not first_version.exists()
    for campaign, export in publication.audiences.items():
        assert (settings.serving_dir / export["file"]).exists(), campaign


#: A run summary with nothing in it but what a test adds (run_summary.format_text's input).
_EMPTY_SUMMARY = {
    "load": {"files": 0}, "quarantine": {"this_run_rows": 0, "this_run": [], "all_time_rows": 0, "all_time": []},
    "leads": {}, "checks": {"gx": [], "dbt_tests": {"passed": 0, "defined": 0, "failed": []}},
    "top_leads": [], "campaigns": [], "serving": {}, "warehouse": "",
}


def test_run_summary_lists_audience_sizes_and_the_measured_uplift(campaign_shop: Settings) -> None:
    from orchestration import run_summary

    with contextlib.closing(duckdb.connect(str(campaign_shop.duckdb_path), read_only=True)) as con:
        rows = run_summary._campaign_audiences(con)
    sizes = query(campaign_shop, "select campaign_id, count(*) filter (where not is_control) as to_send, "
                  "count(*) filter (where is_control) as control from marts.campaign_audiences group by 1")
    assert {r["campaign_id"]: (r["to_send"], r["control"]) for r in rows} == \
        {c: (s, k) for c, s, k in zip(sizes.campaign_id, sizes.to_send, sizes.control)}
    measured = [r for r in rows if r["uplift"] is not None]
    assert [r["campaign_id"] for r in measured] == [CAMPAIGN_ID]
    text = run_summary.format_text({**_EMPTY_SUMMARY, "campaign_audiences": rows})
    line = next(x for x in text.splitlines() if "Weekly newsletter" in x)
    assert f"{measured[0]['uplift']:+.1%} [" in line
