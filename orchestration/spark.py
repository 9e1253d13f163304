"""The `spark` dbt target: the same models on Apache Spark (dbt-spark, session mode).

The landing contract is unchanged: orchestration/landing.py still validates the landing
files, keeps the manifest and names an unreadable file, loading into DuckDB's
``landing.*``. For a Spark build this module then

1. hands the tables Spark's models read (``landing.*`` and ``predictive.*``) to Spark:
   each is written as a Parquet folder and registered in Spark's metastore as a table of
   the same name (:func:`hand_over_sources`);
2. after dbt has built everything on Spark, brings Spark's tables back to the DuckDB
   warehouse (:func:`bring_back_results`), so that the gates, the serving export (DuckDB /
   Parquet files for BI), the run summary and the predictive step read the same tables
   whichever engine built them.

Spark runs in a child Python process (pyspark needs its JVM gone before dbt starts
another one on the same Derby metastore). Every setting comes from the environment
(LEADSCORE_SPARK_*), read by :meth:`SparkSettings.from_env` and by profiles.yml alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.config import PROJECT_ROOT

#: The dbt targets of profiles.yml that `leadscore` runs on.
TARGETS = ("duckdb", "spark")

#: The schemas Spark's models read as sources (written by the loader and the predictive step).
SOURCE_SCHEMAS = ("landing", "predictive")

#: The schemas dbt builds on Spark and that are brought back to DuckDB after a build.
RESULT_SCHEMAS = ("rules", "reference", "staging", "quarantine", "intermediate", "scores", "marts")


class UnknownTarget(ValueError):
    """LEADSCORE_DBT_TARGET names a target that `leadscore` does not run on."""


def dbt_target(env: Mapping[str, str] | None = None) -> str:
    """The dbt target of this run (LEADSCORE_DBT_TARGET, default ``duckdb``)."""
    env = os.environ if env is None else env
    target = (env.get("LEADSCORE_DBT_TARGET") or "duckdb").strip()
    if target not in TARGETS:
        raise UnknownTarget(
            f"LEADSCORE_DBT_TARGET must be one of {', '.join(TARGETS)}, got {target!r} "
            "(the targets of profiles.yml that leadscore runs on)"
        )
    return target


def is_spark(env: Mapping[str, str] | None = None) -> bool:
    return dbt_target(env) == "spark"


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark keeps its tables and metastore, and how big it is."""

    master: str
    driver_memory: str
    warehouse_dir: Path
    metastore_dir: Path
    #: The Parquet folders of the tables handed to Spark (landing.*, predictive.*).
    handover_dir: Path
    shuffle_partitions: int

    @classmethod
    def from_env(cls, data_dir: Path, env: Mapping[str, str] | None = None) -> "SparkSettings":
        """Settings from LEADSCORE_SPARK_*; folders default to ``<data_dir>/spark/...``."""
        env = os.environ if env is None else env

        def folder(name: str, default: Path) -> Path:
            value = env.get(name)
            path = Path(value).expanduser() if value else default
            return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()

        base = data_dir / "spark"
        return cls(
            master=env.get("LEADSCORE_SPARK_MASTER") or "local[2]",
            driver_memory=env.get("LEADSCORE_SPARK_DRIVER_MEMORY") or "2g",
            warehouse_dir=folder("LEADSCORE_SPARK_WAREHOUSE_DIR", base / "warehouse"),
            metastore_dir=folder("LEADSCORE_SPARK_METASTORE_DIR", base / "metastore"),
            handover_dir=folder("LEADSCORE_SPARK_HANDOVER_DIR", base / "handover"),
            shuffle_partitions=int(env.get("LEADSCORE_SPARK_SHUFFLE_PARTITIONS") or 4),
        )

    def env(self) -> dict[str, str]:
        """The environment profiles.yml's `spark` target reads (absolute paths)."""
        return {
            "LEADSCORE_SPARK_MASTER": self.master,
            "LEADSCORE_SPARK_DRIVER_MEMORY": self.driver_memory,
            "LEADSCORE_SPARK_WAREHOUSE_DIR": str(self.warehouse_dir),
            "LEADSCORE_SPARK_METASTORE_DIR": str(self.metastore_dir),
            "LEADSCORE_SPARK_HANDOVER_DIR": str(self.handover_dir),
            "LEADSCORE_SPARK_SHUFFLE_PARTITIONS": str(self.shuffle_partitions),
        }

    def session_config(self) -> dict[str, str]:
        """The same Spark configuration as profiles.yml's server_side_parameters."""
        return {
            "spark.master": self.master,
            "spark.driver.memory": self.driver_memory,
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={self.metastore_dir}/metastore_db;create=true",
            "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={self.metastore_dir}/derby.log",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        }


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    marks = ", ".join("?" for _ in schemas)
    return [
        (schema, table)
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({marks}) and table_type = 'BASE TABLE' "
            "order by table_schema, table_name",
            list(schemas),
        ).fetchall()
    ]


def hand_over_sources(con: duckdb.DuckDBPyConnection, spark: SparkSettings) -> list[dict[str, str]]:
    """Write DuckDB's landing.* and predictive.* to Parquet and register them in Spark.

    Timestamps are written as instants (UTC): Spark reads a Parquet timestamp without
    time zone as TIMESTAMP_NTZ, which its models would then compare with TIMESTAMP.
    """
    tables = []
    for schema, table in _tables(con, SOURCE_SCHEMAS):
        folder = spark.handover_dir / schema / table
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        select = ", ".join(
            f"cast({_quote(name)} as timestamptz) as {_quote(name)}"
            if data_type.upper() == "TIMESTAMP" else _quote(name)
            for name, data_type in columns
        )
        target = folder / "part-0.parquet"
        con.execute(
            f"copy (select {select} from {_quote(schema)}.{_quote(table)}) "
            f"to '{str(target).replace(chr(39), chr(39) * 2)}' (format parquet)"
        )
        tables.append({"schema": schema, "table": table, "location": str(folder)})
    _run_child("register", spark, tables)
    return tables


def bring_back_results(
    con: duckdb.DuckDBPyConnection,
    spark: SparkSettings,
    *,
    tables: Sequence[str] | None = None,
    column_order: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Copy the tables dbt built on Spark into the DuckDB warehouse (same names).

    ``tables``: only these (``schema.table``); default every table of RESULT_SCHEMAS.
    ``column_order``: per ``schema.table``, the model's column order (Spark stores a
    partition column last); applied when it names exactly the table's columns.
    """
    spark.handover_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="leadscore-spark-export-", dir=spark.handover_dir.parent) as tmp:
        exported = _run_child("export", spark, {
            "folder": tmp, "schemas": list(RESULT_SCHEMAS),
            "tables": list(tables) if tables is not None else None,
        })
        copied = []
        for item in exported:
            schema, table, folder = item["schema"], item["table"], item["location"]
            con.execute(f"create schema if not exists {_quote(schema)}")
            files = sorted(Path(folder).glob("*.parquet"))
            if not files:
                continue
            paths = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
            found = [d[0] for d in con.execute(f"select * from read_parquet({paths}) limit 0").description]
            wanted = list((column_order or {}).get(f"{schema}.{table}", []))
            select = ", ".join(_quote(c) for c in wanted) if sorted(wanted) == sorted(found) else "*"
            con.execute(
                f"create or replace table {_quote(schema)}.{_quote(table)} as "
                f"select {select} from read_parquet({paths})"
            )
            copied.append(f"{schema}.{table}")
        return copied


def _run_child(command: str, spark: SparkSettings, payload: object) -> list[dict[str, str]]:
    """Run :func:`_child_main` in a child Python (its JVM ends with it)."""
    spark.warehouse_dir.mkdir(parents=True, exist_ok=True)
    spark.metastore_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"config": spark.session_config(), "payload": payload}, handle)
        request = handle.name
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "orchestration.spark", command, request],
            cwd=spark.metastore_dir,  # Derby writes derby.log into the working directory
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")},
            text=True,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-30:])
            raise RuntimeError(f"Spark step {command!r} failed (exit {proc.returncode}):\n{tail}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        with contextlib.suppress(OSError):
            os.unlink(request)


def _spark_quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def _child_main(command: str, request_path: str) -> int:  # pragma: no cover - runs in a child
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    request = json.loads(Path(request_path).read_text())
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in request["config"].items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    result: list[dict[str, str]] = []
    try:
        if command == "register":
            for item in request["payload"]:
                schema, table = _spark_quote(item["schema"]), _spark_quote(item["table"])
                location = item["location"].replace("\\", "\\\\").replace("'", "\\'")
                session.sql(f"create database if not exists {schema}")
                session.sql(f"drop table if exists {schema}.{table}")
                session.sql(f"create table {schema}.{table} using parquet location '{location}'")
                result.append(item)
        elif command == "export":
            folder = Path(request["payload"]["folder"])
            known = {row[0] for row in session.sql("show databases").collect()}
            for schema in request["payload"]["schemas"]:
                if schema not in known:
                    continue
                wanted = request["payload"].get("tables")
                for row in session.sql(f"show tables in {_spark_quote(schema)}").collect():
                    if row.isTemporary or (wanted is not None and f"{schema}.{row.tableName}" not in wanted):
                        continue
                    frame = session.table(f"{_spark_quote(schema)}.{_spark_quote(row.tableName)}")
                    # timestamps as local (UTC) date-times: DuckDB reads them as TIMESTAMP,
                    # the type its own build gives them
                    frame = frame.select(*[
                        F.col(_spark_quote(field.name)).cast("timestamp_ntz").alias(field.name)
                        if isinstance(field.dataType, TimestampType) else F.col(_spark_quote(field.name))
                        for field in frame.schema.fields
                    ])
                    target = folder / schema / row.tableName
                    frame.coalesce(1).write.mode("overwrite").parquet(str(target))
                    result.append({"schema": schema, "table": row.tableName, "location": str(target)})
        else:
            raise SystemExit(f"unknown command {command!r}")
    finally:
        session.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_child_main(sys.argv[1], sys.argv[2]))
