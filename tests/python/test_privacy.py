"""Erasure on request that stays erased, and clear e-mails confined (orchestration.privacy).

A small generated shop (bad rows included) is refreshed through the Dagster graph, two
leads are erased (one with a stitched anonymous id and orders, one whose e-mail also sits
in a quarantined row without a lead id), and then every varchar column of every table
and every serving file is searched for their ids, anonymous ids, e-mail hashes and
e-mails. Their files are then delivered again and the next refresh must drop their rows
(counted in the run summary), stay incremental, and equal a full rebuild.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    Workspace,
    generate_landing,
    orchestration_session,
    patched_environ,
    workspace_env,
)
from test_incremental import AS_OF as AS_OF_INCREMENTAL
from test_incremental import COMPARED, DAYS, _arrive, _day, _refresh, _table

from orchestration import pipeline, privacy, run_summary
from orchestration.config import Settings
from orchestration.generator import generate
from orchestration.refresh import refresh
from warehouse_helpers import GENERATED_END, make_settings, query

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


# ---------------------------------------------------------------------------- helpers


def _needles(settings: Settings, lead_ids: list[str]) -> dict[str, list[str]]:
    """What must disappear with ``lead_ids``: the ids, the anonymous ids stitched to
    them, their e-mail hashes and their clear e-mails (read before the erasure)."""
    ids = ", ".join(f"'{i}'" for i in lead_ids)
    anonymous = query(settings, "select distinct anonymous_id from intermediate.int_identity_links "
                                f"where lead_id in ({ids})")["anonymous_id"].tolist()
    emails = query(settings, "select distinct trim(email) as email from landing.leads where "
                             f"trim(lead_id) in ({ids}) and nullif(trim(email), '') is not null")
    hashes = query(settings, "select distinct email_hash from staging.stg_landing__leads "
                             f"where lead_id in ({ids}) and email_hash is not null")
    return {"lead_id": lead_ids, "anonymous_id": anonymous,
            "email": emails["email"].tolist(), "email_hash": hashes["email_hash"].tolist()}


def _scan_duckdb(con: duckdb.DuckDBPyConnection, needles: list[str], where: str) -> dict[str, int]:
    """Rows of every table/view whose varchar columns contain a needle, per table."""
    columns = con.execute(
        "select table_catalog, table_schema, table_name, list(column_name) from information_schema.columns "
        f"where data_type = 'VARCHAR' and {where} group by all").fetchall()
    values = ", ".join("(" + "'" + n.replace("'", "''") + "')" for n in needles)
    found = {}
    for catalog, schema, table, names in columns:
        condition = " or ".join(f'contains("{c}", needles.needle)' for c in names)
        count = con.execute(
            f'select count(*) from "{catalog}"."{schema}"."{table}", (values {values}) as needles(needle) '
            f"where {condition}").fetchone()[0]
        if count:
            found[f"{schema}.{table}"] = count
    return found


def find_anywhere(settings: Settings, needles: dict[str, list[str]]) -> dict[str, int]:
    """Where any needle still is: warehouse tables and views, serving.duckdb, the
    Parquet file and every other serving file (read as text)."""
    flat = [n for values in needles.values() for n in values]
    assert flat
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path), read_only=True)) as con:
        found = _scan_duckdb(con, flat, "table_catalog = current_database()")
    for path in sorted(settings.serving_dir.iterdir()):
        if path.name == "serving.duckdb":
            with contextlib.closing(duckdb.connect(str(path), read_only=True)) as con:
                found.update({f"serving.duckdb:{k}": v for k, v in
                              _scan_duckdb(con, flat, "table_catalog = current_database()").items()})
        elif path.suffix == ".parquet":
            with contextlib.closing(duckdb.connect()) as con:
                con.execute(f"create view parquet_file as select * from read_parquet('{path}')")
                found.update({f"{path.name}:{k}": v for k, v in
                              _scan_duckdb(con, flat, "table_name = 'parquet_file'").items()})
        elif path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            hits = sum(text.count(n) for n in flat)
            if hits:
                found[path.name] = hits
    return found


def _matching_rows(settings: Settings, needles: dict[str, list[str]]) -> pd.DataFrame:
    """Landing rows of the erased people, per entity and source file."""
    def in_list(values: list[str]) -> str:
        return "(" + ", ".join(f"'{v}'" for v in values) + ")" if values else "(null)"

    leads, anonymous, hashes = (in_list(needles[k]) for k in ("lead_id", "anonymous_id", "email_hash"))
    return query(settings, f"""
        select 'events' as entity, _source_file, count(*) as n_rows from landing.events
        where trim(lead_id) in {leads} or trim(anonymous_id) in {anonymous} group by all
        union all
        select 'leads', _source_file, count(*) from landing.leads
        where trim(lead_id) in {leads} or sha256(lower(trim(nullif(trim(email), '')))) in {hashes}
        group by all
        union all
        select 'orders', _source_file, count(*) from landing.orders where trim(lead_id) in {leads}
        group by all""")


# ---------------------------------------------------------------------------- fixtures


@dataclasses.dataclass
class Erased:
    workspace: Workspace
    settings: Settings
    lead_ids: list[str]
    needles: dict[str, list[str]]
    landing_rows: pd.DataFrame  # the landing rows of the erased people, per file
    receipt: privacy.Receipt
    found_after_erase: dict[str, int]
    found_before_erase: dict[str, int]
    in_file_before: set[str]
    in_file_after: set[str]


def _in_file(path: Path, needles: dict[str, list[str]]) -> set[str]:
    """The ids and clear e-mails whose bytes are in the file (deleted rows included)."""
    data = path.read_bytes()
    return {n for n in needles["lead_id"] + needles["email"] if n.encode() in data}


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory, orchestration_session: Path) -> Erased:
    root = tmp_path_factory.mktemp("privacy")
    ws = Workspace(root, workspace_env(root))
    generate_landing(ws.landing_dir, bad_row_share=0.05)
    settings = ws.settings()
    refresh(settings, as_of=AS_OF)
    # a lead with a stitched anonymous id and the most orders ...
    stitched = query(settings, """
        select links.lead_id from intermediate.int_identity_links as links
        left join staging.stg_landing__orders as orders on links.lead_id = orders.lead_id
        group by all order by count(orders.lead_id) desc, links.lead_id limit 1""")["lead_id"].iloc[0]
    # ... and a lead whose e-mail is also in a quarantined row without a lead id
    in_quarantine = query(settings, """
        select distinct staged.lead_id from staging.stg_landing__leads as staged
        inner join landing.leads as raw
            on staged.email_hash = sha256(lower(trim(nullif(trim(raw.email), ''))))
        where nullif(trim(raw.lead_id), '') is null order by 1 limit 1""")["lead_id"]
    assert len(in_quarantine) == 1, "the generated shop has no id-less lead row with a known e-mail"
    lead_ids = [stitched, in_quarantine.iloc[0]]
    needles = _needles(settings, lead_ids)
    assert needles["anonymous_id"] and len(needles["email_hash"]) >= 2
    found_before = find_anywhere(settings, needles)
    landing_rows = _matching_rows(settings, needles)
    in_file_before = _in_file(settings.duckdb_path, needles)
    receipt = privacy.erase(settings, lead_ids, lock_timeout=5)
    return Erased(ws, settings, lead_ids, needles, landing_rows, receipt,
                  find_anywhere(settings, needles), found_before, in_file_before,
                  _in_file(settings.duckdb_path, needles))


@pytest.fixture(scope="module")
def redelivered(erased: Erased) -> tuple[Erased, dict]:
    """The erased people's landing files delivered again (as new files), then refreshed."""
    settings = erased.settings
    for source_file in erased.landing_rows["_source_file"].unique():
        source = settings.landing_dir / source_file
        target = source.with_name("again_" + source.name)
        shutil.copy(source, target)
    batch_before = query(settings, "select max(_processed_batch) as b from staging.base_landing__events")["b"].iloc[0]
    result = refresh(settings, as_of=AS_OF)
    return erased, {"result": result, "batch_before": int(batch_before)}


# ---------------------------------------------------------------------------- erasure


def test_the_erased_leads_were_everywhere_before(erased: Erased) -> None:
    """The scan finds what it looks for (else 'nowhere' below would prove nothing)."""
    found = erased.found_before_erase
    for table in ("landing.leads", "landing.events", "staging.stg_landing__leads",
                  "quarantine.quarantined_rows", "marts.lead_scores",
                  "serving.duckdb:main.lead_scores", "lead_scores.parquet:main.parquet_file"):
        assert table in found, table


def test_an_erased_lead_is_nowhere_in_the_warehouse_nor_the_serving_layer(erased: Erased) -> None:
    assert erased.found_after_erase == {}
    receipt = erased.receipt
    assert receipt.requested == 2 and receipt.anonymous_ids >= 1 and receipt.email_hashes >= 2
    assert receipt.republished
    # the receipt's rows per table are the rows that held the people before
    for table in ("landing.leads", "landing.events", "landing.orders", "marts.lead_scores",
                  "quarantine.quarantined_rows", "staging.stg_landing__orders"):
        assert receipt.rows_removed.get(table, 0) > 0, table
    assert receipt.rows_removed["marts.lead_scores"] == 2
    text = receipt.format()
    assert "marts.lead_scores" in text and not any(i in text for i in erased.lead_ids)


def test_the_erased_bytes_are_gone_from_the_warehouse_file(erased: Erased) -> None:
    """DuckDB only marks deleted rows: the file is rewritten, else their bytes remain."""
    assert erased.in_file_before  # the scan sees them when they are there
    assert erased.receipt.compacted and erased.in_file_after == set()


def test_the_ledger_holds_salted_hashes_only(erased: Erased) -> None:
    ledger = query(erased.settings, f"select * from {privacy.LEDGER_TABLE}")
    assert sorted(ledger["id_kind"].unique()) == ["anonymous_id", "email_hash", "lead_id"]
    assert len(ledger) == erased.receipt.ledger_entries
    assert ledger["id_hash"].str.fullmatch("[0-9a-f]{64}").all()
    plain = {n for values in erased.needles.values() for n in values}
    unsalted = {__import__("hashlib").sha256(n.encode()).hexdigest() for n in plain}
    assert not (set(ledger["id_hash"]) & (plain | unsalted))
    salt_file = privacy.salt_path(erased.settings)
    assert oct(salt_file.stat().st_mode & 0o777) == "0o600"


def test_quarantined_raw_rows_hold_no_clear_email(erased: Erased) -> None:
    raw = query(erased.settings, "select entity, raw_row from quarantine.quarantined_rows")
    emails = [json.loads(r)["email"] for e, r in raw.itertuples(index=False) if e == "leads"]
    masked = [e for e in emails if e and e.startswith("sha256:")]
    assert masked, "the generated bad lead rows carry e-mails: they must be in the quarantine, masked"
    assert all(re.fullmatch("sha256:[0-9a-f]{64}", e) for e in masked)
    assert not [r for r in raw["raw_row"] if EMAIL.search(r)]
    # a data steward can still match a masked e-mail with staging's hash
    staged = set(query(erased.settings, "select email_hash from staging.stg_landing__leads")["email_hash"])
    assert {e.removeprefix("sha256:") for e in masked} & staged


def test_clear_emails_live_in_the_landing_copy_only(erased: Erased) -> None:
    with contextlib.closing(duckdb.connect(str(erased.settings.duckdb_path), read_only=True)) as con:
        columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                              "where data_type = 'VARCHAR' and table_catalog = current_database()").fetchall()
        holding = {f"{s}.{t}" for s, t, c in columns
                   if con.execute(f'select count(*) from "{s}"."{t}" where regexp_matches("{c}", ?)',
                                  [EMAIL.pattern]).fetchone()[0]}
    assert holding == {"landing.leads"}


# ------------------------------------------------------------------- stays erased


def test_redelivered_rows_of_erased_people_are_dropped_and_counted(redelivered) -> None:
    erased, after = redelivered
    summary = after["result"].summary
    expected = int(erased.landing_rows["n_rows"].sum())
    assert expected > 0
    assert summary["load"]["dropped_erased_rows"] == expected
    assert run_summary.read(erased.settings.serving_dir)["load"]["dropped_erased_rows"] == expected
    assert "erased on request" in after["result"].report
    assert find_anywhere(erased.settings, erased.needles) == {}
    # the erasure changed tables outside a refresh: the next one ran every dbt data test
    assert summary["checks"]["dbt_tests"]["not_run"] == 0
    assert summary["checks"]["dbt_tests"]["run"] == summary["checks"]["dbt_tests"]["defined"]


def test_the_refresh_after_an_erasure_stays_incremental(redelivered) -> None:
    erased, after = redelivered
    batches = query(erased.settings, "select min(_processed_batch) as first, max(_processed_batch) as last "
                                     "from staging.base_landing__events")
    # rows processed before the erasure were kept, not rebuilt; the new batch was processed
    assert batches["first"].iloc[0] == after["batch_before"] < batches["last"].iloc[0]


def test_the_incremental_state_after_an_erasure_equals_a_full_rebuild(redelivered, tmp_path) -> None:
    erased, _ = redelivered
    rebuilt = dataclasses.replace(make_settings(tmp_path / "rebuilt"), landing_dir=erased.settings.landing_dir)
    shutil.copy(erased.settings.duckdb_path, rebuilt.duckdb_path)
    pipeline.run_dbt(rebuilt, ["build", "--quiet", "--full-refresh", "--exclude-resource-type",
                               "unit_test", "test"], as_of=AS_OF, quiet=True)
    for name in COMPARED:
        pd.testing.assert_frame_equal(_table(erased.settings, name, False), _table(rebuilt, name, False), obj=name)


def test_a_load_with_another_salt_stops_instead_of_letting_people_back(redelivered) -> None:
    erased, _ = redelivered
    source = next(erased.settings.landing_dir.glob("leads/again_*"))
    shutil.copy(source, source.with_name("third_" + source.name))
    rows = query(erased.settings, "select count(*) as n from landing.leads")["n"].iloc[0]
    with patched_environ({privacy.SALT_ENV: "another-salt-of-enough-length"}):
        with pytest.raises(privacy.ErasureError, match="not the one the erasure ledger"):
            pipeline.load_landing(erased.settings)
    assert query(erased.settings, "select count(*) as n from landing.leads")["n"].iloc[0] == rows
    source.with_name("third_" + source.name).unlink()


# ------------------------------------------------------------ safe beside a refresh


def _hold_lock(settings: Settings, seconds: float, holding: threading.Event,
               released: list[float] | None = None) -> None:
    with pipeline.refresh_lock(settings):
        holding.set()
        time.sleep(seconds)
        if released is not None:
            released.append(time.monotonic())


def test_an_erasure_waits_for_a_running_refresh_then_succeeds(redelivered, monkeypatch) -> None:
    erased, _ = redelivered
    holding, released, worked = threading.Event(), [], []
    salt = privacy.salt

    def first_step_under_the_lock(*args, **kwargs):  # the erasure's first step under the lock
        worked.append(time.monotonic())
        return salt(*args, **kwargs)

    monkeypatch.setattr(privacy, "salt", first_step_under_the_lock)
    holder = threading.Thread(target=_hold_lock, args=(erased.settings, 3.0, holding, released))
    holder.start()
    holding.wait(10)
    receipt = privacy.erase(erased.settings, ["L-NOT-DELIVERED-YET"], lock_timeout=60)
    holder.join()
    assert worked and released and worked[0] >= released[0]  # it waited for the release
    assert receipt.ledger_entries == 1 and receipt.rows_removed == {}


def test_an_erasure_that_cannot_get_the_lock_says_so_and_erases_nothing(redelivered) -> None:
    erased, _ = redelivered
    holding = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(erased.settings, 4.0, holding))
    holder.start()
    holding.wait(10)
    leads = query(erased.settings, "select count(*) as n from marts.lead_scores")["n"].iloc[0]
    some_lead = query(erased.settings, "select min(lead_id) as l from marts.lead_scores")["l"].iloc[0]
    try:
        with pytest.raises(privacy.ErasureError, match="still running .* after waiting 1 s; nothing was erased"):
            privacy.erase(erased.settings, [some_lead], lock_timeout=1)
    finally:
        holder.join()
    assert query(erased.settings, "select count(*) as n from marts.lead_scores")["n"].iloc[0] == leads


# ------------------------------------------------------------------------- the salt


def test_the_salt_is_validated(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with patched_environ({privacy.SALT_ENV: "short"}):
        with pytest.raises(privacy.ErasureError, match="at least 16 characters"):
            privacy.salt(settings)
    with patched_environ({privacy.SALT_ENV: ""}):
        assert privacy.salt(settings) is None  # no salt yet, none created by a load
        value = privacy.salt(settings, create=True)
        assert privacy.salt(settings) == value and len(value) == 64
        os.chmod(privacy.salt_path(settings), 0o644)
        with pytest.raises(privacy.ErasureError, match="chmod 600"):
            privacy.salt(settings)


def test_erase_needs_ids(tmp_path: Path) -> None:
    with pytest.raises(privacy.ErasureError, match="--lead-id"):
        privacy.read_ids([" ", ""], None)
    listing = tmp_path / "ids.txt"
    listing.write_text("# request 17\nL1\n\n L2 \nL1\n", encoding="utf-8")
    assert privacy.read_ids(["L3"], listing) == ["L3", "L1", "L2"]


# ------------------------------------------------------------------ landing retention


def test_pruned_landing_copies_change_no_incremental_result(tmp_path: Path) -> None:
    """Day by day, every processed landing copy is pruned before the next load (retention
    0 days): the incremental warehouse equals one full build from all the files, and every
    dbt test passes (the row-by-row landing accounting included)."""
    all_files = tmp_path / "all"
    generate(all_files, leads=150, days=DAYS, seed=17, end_date=GENERATED_END, bad_row_share=0.0)
    pruning = dataclasses.replace(make_settings(tmp_path / "pruning"), landing_retention_days=0)
    for index in range(DAYS):
        _arrive(all_files, pruning.landing_dir, f"*_{_day(index)}.*")
        if index >= 2:
            _refresh(pruning)
    kept = query(pruning, "select count(*) as n, count(distinct _batch_id) as batches from landing.events")
    assert kept["batches"].iloc[0] == 1  # only the last load's rows are left
    pipeline.run_dbt(pruning, ["test", "--quiet", "--exclude-resource-type", "unit_test"],
                     as_of=AS_OF_INCREMENTAL, quiet=True)
    full = make_settings(tmp_path / "full")
    shutil.copytree(all_files, full.landing_dir)
    _refresh(full)
    assert query(full, "select count(*) as n from landing.events")["n"].iloc[0] > kept["n"].iloc[0]
    for name in COMPARED:
        pd.testing.assert_frame_equal(_table(pruning, name, True), _table(full, name, True), obj=name)


@pytest.mark.parametrize(("value", "expected"), [("", None), ("keep", None), ("0", 0), ("30", 30)])
def test_the_retention_setting_is_read(value: str, expected: int | None) -> None:
    with patched_environ({"LEADSCORE_LANDING_RETENTION_DAYS": value}):
        assert Settings.from_env().landing_retention_days == expected


@pytest.mark.parametrize("value", ["-1", "thirty", "1.5"])
def test_a_bad_retention_setting_is_a_clear_error(value: str) -> None:
    with patched_environ({"LEADSCORE_LANDING_RETENTION_DAYS": value}):
        with pytest.raises(ValueError, match="LEADSCORE_LANDING_RETENTION_DAYS must be a whole number of days"):
            Settings.from_env()


def test_the_erase_command_reads_ids_from_a_file_and_prints_the_receipt(
        redelivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestration import cli

    erased, _ = redelivered
    lead = query(erased.settings, "select max(lead_id) as l from marts.lead_scores")["l"].iloc[0]
    listing = tmp_path / "request.txt"
    listing.write_text(f"# request of the day\n{lead}\n", encoding="utf-8")
    code = cli.main(["erase", "--warehouse", str(erased.settings.duckdb_path), "--serving-dir",
                     str(erased.settings.serving_dir), "--from-file", str(listing), "--no-compact"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Erased 1 lead id(s)" in out and "marts.lead_scores" in out and lead not in out
    assert "not rewritten (--no-compact)" in out
    assert query(erased.settings, "select count(*) as n from marts.lead_scores where lead_id = ?",
                 [lead])["n"].iloc[0] == 0
