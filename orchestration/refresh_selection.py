"""What a refresh may leave out of its dbt build: seeds that did not change, and data tests
whose inputs did not change since they last passed.

A refresh with nothing new used to reload every seed and run every data test. Two records in
the warehouse let it skip that work, with the same result:

- ``landing._seed_loads``: per seed, the fingerprint of what was loaded (SHA-256 of the CSV
  file, its dbt config such as ``column_types``, dbt_project.yml). A seed is reloaded when
  its fingerprint differs, when it was never recorded, or when its table is missing from
  the warehouse. A seed is recorded only when its load succeeded *and* every test that reads
  it passed in that build, so a seed whose tests failed is loaded and tested again.
- ``landing._verified_tests``: per data test, the fingerprint of everything its result can
  depend on, recorded when it passed. A test runs again when that fingerprint changes.

A test's fingerprint is built from its own definition (SQL, arguments, config, macros) and
its inputs, walked upstream: a seed contributes its fingerprint; an incremental model its
code and config and, in turn, its own inputs; a landing table the loader writes (events,
leads, orders, campaign_sends) its row count and newest batch. Anything that every refresh
rebuilds (table and view models: the as_of layer, the scores, the marts; the predictive
step's and the serving export's tables) or a test that reads ``as_of`` makes the test
*volatile*: it runs on every refresh. So a refresh without new landing files runs the tests
of the as_of layer, the scores and the marts, and skips those of the seeds and of the
incremental event path (base/stg/quarantine/int_events...), whose data did not change.

Nothing is skipped (every seed loads, every test runs) when

- the run is a ``--full-refresh``;
- ``LEADSCORE_REFRESH_TESTS=all`` (tests only: unchanged seeds are still not reloaded);
- the target is Spark (``LEADSCORE_DBT_TARGET=spark``): the seeds live in Spark's warehouse,
  not in the DuckDB file these records are kept in, and each refresh hands the landing
  tables over anew;
- Dagster runs a subset of the dbt assets (a UI selection): what was asked for runs.

A third record scopes the tests that do run: a test marked with ``__verified_batch__`` in
its ``where`` config (macros/test_scopes.sql), e.g. the uniqueness of an incremental event
table's key, reads only the rows of batches loaded since it last passed. ``landing.
_verified_tests`` keeps, beside the fingerprint, that batch (the newest batch of the table
it reads, when it passed) and a digest of the test's and its inputs' definitions; before a
build the refresh writes the scopes that still hold into ``landing._test_scopes`` (a test or
a model it reads that changed, or a test that failed, reads every row again), and empties
it afterwards, so a ``dbt build`` by hand checks every row.

``make test`` runs ``dbt build`` / ``dbt test`` directly, not through this module: all tests.
An erasure (``leadscore erase``) changes tables outside a refresh and forgets the verified
tests (:func:`forget_verified_tests`), so the next refresh runs them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import PROJECT_ROOT

#: The setting (read by orchestration.config, ``Settings.refresh_tests``): ``changed``
#: (default) runs only the data tests whose inputs changed since they last passed; ``all``
#: runs every data test on every refresh.
TESTS_ENV = "LEADSCORE_REFRESH_TESTS"
SEED_TABLE = "landing._seed_loads"
TEST_TABLE = "landing._verified_tests"
SCOPE_TABLE = "landing._test_scopes"
#: The mark in a test's ``where`` config that the batch it last passed at replaces.
SCOPE_MARK = "__verified_batch__"
#: Landing tables the loader writes: their data fingerprint is their row count and newest batch.
LOADER_SOURCES = ("events", "leads", "orders", "campaign_sends")
#: Files whose content is part of every fingerprint (vars, seed defaults, profiles).
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Plan:
    """What a dbt build of this refresh leaves out, and what it records afterwards."""

    #: unique_id -> fingerprint of every seed (None: not planned, nothing is recorded)
    seed_fingerprints: dict[str, str] = field(default_factory=dict)
    #: unique_id -> fingerprint of every data test (None: volatile, never skipped)
    test_fingerprints: dict[str, str | None] = field(default_factory=dict)
    skipped_seeds: set[str] = field(default_factory=set)
    skipped_tests: set[str] = field(default_factory=set)
    #: test unique_id -> the seeds it reads (a seed is recorded only when these passed)
    seed_tests: dict[str, set[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # unique_id -> dbt node name
    #: unique_id of a skipped seed or test -> when it was loaded / last passed (UTC)
    recorded_at: dict[str, datetime] = field(default_factory=dict)
    #: test unique_id -> (relation, batch column, definition digest) of the scoped tests
    scoped_tests: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: test unique_id -> the batch it last passed at: it reads only the newer rows
    scopes: dict[str, int] = field(default_factory=dict)
    #: why nothing is skipped ("" when the plan applies)
    reason: str = ""

    def exclude_args(self, selected: Iterable[str]) -> list[str]:
        """dbt arguments leaving out the skipped nodes among ``selected`` (unique ids).

        Nodes are excluded by name (the ``fqn`` method matches a node's name; every name of
        this project is unique). ``--indirect-selection empty`` makes ``--exclude`` drop only
        the nodes named: dbt's default (eager) would also drop every test that reads an
        excluded seed, e.g. stg_landing__events' relationship to event_types, which must run
        when new events arrive. (The steps' own selections are the same in both modes.)
        """
        chosen = set(selected)
        names = sorted(self.names[uid] for uid in (self.skipped_seeds | self.skipped_tests)
                       if uid in chosen)
        if not names:
            return []
        return ["--indirect-selection", "empty", "--exclude", " ".join(names)]


def disabled(reason: str) -> Plan:
    """Nothing is skipped and nothing is recorded (e.g. Spark: no records in DuckDB)."""
    return Plan(reason=reason)


def everything(current: Plan, reason: str) -> Plan:
    """Nothing is skipped and every test reads every row, but what passes is recorded, as
    after any build: a ``--full-refresh`` verifies every row, so the refresh after it can
    skip and scope."""
    current.skipped_seeds.clear()
    current.skipped_tests.clear()
    current.scopes.clear()
    current.recorded_at.clear()
    current.reason = reason
    return current


# ------------------------------------------------------------------------- fingerprints


def _seed_fingerprint(node: Mapping[str, Any], project_root: Path, project_hash: str) -> str:
    path = project_root / node["original_file_path"]
    content = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
    return _digest(["seed", content, node.get("config"), node.get("schema"),
                    node.get("alias") or node.get("name"), project_hash])


def _definition(node: Mapping[str, Any], macros: Mapping[str, Any]) -> list[Any]:
    """What a node's SQL is made of: its code, config, arguments and the macros it calls."""
    macro_sql = [[uid, (macros.get(uid) or {}).get("macro_sql")]
                 for uid in sorted((node.get("depends_on") or {}).get("macros") or [])]
    return [node.get("raw_code"), (node.get("checksum") or {}).get("checksum"),
            node.get("config"), node.get("test_metadata"), node.get("column_name"), macro_sql]


def _scoped_test(node: Mapping[str, Any], manifest: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(relation, batch column, definition digest) of a test marked with SCOPE_MARK."""
    where = (node.get("config") or {}).get("where") or ""
    column = re.search(r"(\w+)\s*>\s*" + SCOPE_MARK, where)
    if not column:
        return None
    nodes, sources = manifest["nodes"], manifest.get("sources") or {}
    tested = node.get("attached_node")
    if tested in nodes:
        target = nodes[tested]
        relation = f"{target['schema']}.{target.get('alias') or target['name']}"
    else:
        model_arg = str(((node.get("test_metadata") or {}).get("kwargs") or {}).get("model", ""))
        named = re.search(r"source\('(\w+)',\s*'(\w+)'\)", model_arg)
        source = next((src for src in sources.values() if named
                       and (src["source_name"], src["name"]) == named.groups()), None)
        if source is None:
            return None
        relation = f"{source['schema']}.{source.get('identifier') or source['name']}"
    macros = manifest.get("macros") or {}
    parents = sorted((node.get("depends_on") or {}).get("nodes") or [])
    digest = _digest([_definition(node, macros),
                      [[p, _definition(nodes[p], macros) if p in nodes else None] for p in parents]])
    return relation, column.group(1), digest


def _reads_as_of(node: Mapping[str, Any]) -> bool:
    """A test whose SQL or arguments read the run's as_of is volatile (it changes each run)."""
    text = json.dumps([node.get("raw_code"), node.get("test_metadata"),
                       (node.get("config") or {}).get("where")], default=str)
    return "as_of" in text


class _Fingerprints:
    """Fingerprints of the nodes upstream of the tests, memoised (None: volatile)."""

    def __init__(self, manifest: Mapping[str, Any], seeds: Mapping[str, str],
                 sources: Mapping[str, Any]) -> None:
        self.nodes = manifest["nodes"]
        self.sources = manifest.get("sources") or {}
        self.macros = manifest.get("macros") or {}
        self.seeds = seeds
        self.source_data = sources
        self.memo: dict[str, str | None] = {}

    def of(self, uid: str) -> str | None:
        if uid not in self.memo:
            self.memo[uid] = self._compute(uid)
        return self.memo[uid]

    def _compute(self, uid: str) -> str | None:
        if uid in self.sources:
            source = self.sources[uid]
            if source.get("source_name") == "landing" and source["name"] in LOADER_SOURCES:
                return _digest(["source", uid, self.source_data.get(source["name"])])
            return None  # written by another step of every refresh (predictions, publications)
        node = self.nodes.get(uid)
        if node is None:
            return None
        kind = node["resource_type"]
        if kind == "seed":
            return self.seeds[uid]
        if kind == "model":
            if (node.get("config") or {}).get("materialized") != "incremental":
                return None  # rebuilt by every refresh
            return self._with_parents(uid, node)
        if kind == "test":
            if _reads_as_of(node):
                return None
            return self._with_parents(uid, node)
        return None

    def _with_parents(self, uid: str, node: Mapping[str, Any]) -> str | None:
        parents = []
        for parent in sorted((node.get("depends_on") or {}).get("nodes") or []):
            value = self.of(parent)
            if value is None:
                return None
            parents.append([parent, value])
        return _digest([uid, _definition(node, self.macros), parents])


def _project_hash(project_root: Path) -> str:
    return _digest([(project_root / name).read_text(encoding="utf-8")
                    if (project_root / name).exists() else None for name in PROJECT_FILES])


# ------------------------------------------------------------------------ the warehouse


def _table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ?", [schema, table]).fetchone()[0])


def _recorded_scopes(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """unique_id -> (verified batch, definition digest) of the scoped tests that passed."""
    if not _table_exists(con, TEST_TABLE):
        return {}
    columns = {row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = 'landing' "
        "and table_name = '_verified_tests'").fetchall()}
    if "verified_batch" not in columns:
        return {}
    rows = con.execute(f"select unique_id, verified_batch, scope_digest from {TEST_TABLE} "
                       "where verified_batch is not null").fetchall()
    return {uid: (batch, digest) for uid, batch, digest in rows}


def _recorded(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[str, datetime]]:
    """unique_id -> (fingerprint, recorded_at) of a record table (empty when missing)."""
    if not _table_exists(con, table):
        return {}
    rows = con.execute(f"select unique_id, fingerprint, recorded_at from {table}").fetchall()
    return {uid: (fingerprint, at) for uid, fingerprint, at in rows}


def _source_data(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Row count and newest batch of each loader-written landing table (absent: None)."""
    data: dict[str, Any] = {}
    for name in LOADER_SOURCES:
        if _table_exists(con, f"landing.{name}"):
            data[name] = list(con.execute(
                f"select count(*), max(_batch_id) from landing.{name}").fetchone())
    return data


def plan(con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], *, tests: str,
         project_root: Path = PROJECT_ROOT) -> Plan:
    """The plan of a refresh's dbt build, from the manifest and the warehouse's records.

    ``tests``: ``changed`` or ``all`` (:data:`TESTS_ENV`). Reads the warehouse only.
    """
    nodes = manifest["nodes"]
    project_hash = _project_hash(project_root)
    seeds = {uid: _seed_fingerprint(node, project_root, project_hash)
             for uid, node in nodes.items() if node["resource_type"] == "seed"}
    fingerprints = _Fingerprints(manifest, seeds, _source_data(con))
    result = Plan(seed_fingerprints=seeds,
                  names={uid: node["name"] for uid, node in nodes.items()})
    loaded = _recorded(con, SEED_TABLE)
    for uid, fingerprint in seeds.items():
        node = nodes[uid]
        relation = f"{node['schema']}.{node.get('alias') or node['name']}"
        if uid in loaded and loaded[uid][0] == fingerprint and _table_exists(con, relation):
            result.skipped_seeds.add(uid)
            result.recorded_at[uid] = loaded[uid][1]
    verified = _recorded(con, TEST_TABLE) if tests == "changed" else {}
    verified_scopes = _recorded_scopes(con) if tests == "changed" else {}
    for uid, node in nodes.items():
        if node["resource_type"] != "test":
            continue
        parents = (node.get("depends_on") or {}).get("nodes") or []
        result.seed_tests[uid] = {p for p in parents if p in seeds}
        fingerprint = fingerprints.of(uid)
        result.test_fingerprints[uid] = fingerprint
        if fingerprint is not None and uid in verified and verified[uid][0] == fingerprint:
            result.skipped_tests.add(uid)
            result.recorded_at[uid] = verified[uid][1]
        scoped = _scoped_test(node, manifest)
        if scoped is not None:
            result.scoped_tests[uid] = scoped
            if uid in verified_scopes and verified_scopes[uid][1] == scoped[2]:
                result.scopes[uid] = verified_scopes[uid][0]
    return result


def record(con: duckdb.DuckDBPyConnection, current: Plan,
           results: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Record what a dbt build verified (its ``run_results.json`` results): the seeds it
    loaded whose tests all passed, and the tests that passed. A test that failed, warned or
    errored is forgotten, so it runs again. Returns (seeds, tests) recorded."""
    status = {r["unique_id"]: r["status"] for r in results}
    if not current.seed_fingerprints and not current.test_fingerprints:  # disabled()
        # nothing is recorded, but a test that did not pass must not stay verified
        if _table_exists(con, TEST_TABLE):
            con.execute(f"delete from {TEST_TABLE} where unique_id in (select unnest(?))",
                        [sorted(uid for uid, s in status.items()
                                if uid.startswith("test.") and s != "pass")])
        return 0, 0
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute("create schema if not exists landing")
    for table in (SEED_TABLE, TEST_TABLE):
        con.execute(f"create table if not exists {table} (unique_id varchar primary key, "
                    "fingerprint varchar not null, recorded_at timestamp not null)")
    # the scope of a test that reads only new rows (written by earlier versions without it)
    con.execute(f"alter table {TEST_TABLE} add column if not exists verified_batch bigint")
    con.execute(f"alter table {TEST_TABLE} add column if not exists scope_digest varchar")
    not_passed = {uid for uid, s in status.items() if uid.startswith("test.") and s != "pass"}
    seeds = [uid for uid, s in status.items() if uid in current.seed_fingerprints
             and s == "success"
             and not any(uid in current.seed_tests.get(t, ()) for t in not_passed)]
    tests = [uid for uid, s in status.items()
             if s == "pass" and (current.test_fingerprints.get(uid) is not None
                                 or uid in current.scoped_tests)]
    # a scoped test that passed has checked every row up to the newest batch of its table
    batches: dict[str, int | None] = {}
    for uid in tests:
        if uid in current.scoped_tests:
            relation, column, _ = current.scoped_tests[uid]
            batches[uid] = con.execute(f"select max({column}) from {relation}").fetchone()[0]
    with _transaction(con):
        con.execute(f"delete from {TEST_TABLE} where unique_id in (select unnest(?))",
                    [sorted(not_passed)])
        # a seed reloaded now whose tests did not all pass: load (and test) it again next time
        con.execute(f"delete from {SEED_TABLE} where unique_id in (select unnest(?))",
                    [sorted(uid for uid, s in status.items()
                            if uid in current.seed_fingerprints and uid not in seeds)])
        if seeds:
            con.executemany(f"insert or replace into {SEED_TABLE} values (?, ?, ?)",
                            [[uid, current.seed_fingerprints[uid], now] for uid in seeds])
        if tests:
            # a volatile test (no fingerprint) is recorded for its scope only: it is never skipped
            con.executemany(
                f"insert or replace into {TEST_TABLE} (unique_id, fingerprint, recorded_at, "
                "verified_batch, scope_digest) values (?, ?, ?, ?, ?)",
                [[uid, current.test_fingerprints.get(uid) or "volatile", now, batches.get(uid),
                  current.scoped_tests[uid][2] if uid in current.scoped_tests else None]
                 for uid in tests])
    return len(seeds), len(tests)


def write_scopes(con: duckdb.DuckDBPyConnection, current: Plan) -> None:
    """Hand the plan's scopes to the dbt build (macros/test_scopes.sql reads them)."""
    con.execute("create schema if not exists landing")
    con.execute(f"create or replace table {SCOPE_TABLE} "
                "(unique_id varchar primary key, verified_batch bigint not null)")
    if current.scopes:
        con.executemany(f"insert into {SCOPE_TABLE} values (?, ?)", sorted(current.scopes.items()))


def clear_scopes(con: duckdb.DuckDBPyConnection) -> None:
    """After the build: a later ``dbt build`` by hand checks every row."""
    if _table_exists(con, SCOPE_TABLE):
        con.execute(f"delete from {SCOPE_TABLE}")


def forget_verified_tests(con: duckdb.DuckDBPyConnection) -> None:
    """Make the next refresh run every data test (the warehouse changed outside a refresh)."""
    if _table_exists(con, TEST_TABLE):
        con.execute(f"delete from {TEST_TABLE}")


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection):  # type: ignore[no-untyped-def]
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
