"""`make docs`: the dbt docs site, in ``target/docs``, and how to open it.

``dbt docs generate`` reads the column types of the catalog from a warehouse. It reads the
demo warehouse (``$LEADSCORE_DUCKDB_PATH``) when that exists, holding the refresh lock for
the few seconds it takes, so it never reads a half-written warehouse. Without one (a fresh
clone), or with ``--generated``, or while a refresh holds the lock, it builds a small
generated shop (seeds and models, no tests) in a temporary folder and reads that instead;
the descriptions, tests and lineage are the same either way.

The site is written to its own folder (not ``target/``, where the Dagster code location
keeps its manifest) with ``--static``: ``static_index.html`` embeds everything and opens
from the file system; ``index.html`` needs a web server (``make docs-serve``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import tempfile
from pathlib import Path

from orchestration import pipeline
from orchestration.config import PROJECT_ROOT, Settings

DEFAULT_OUT = PROJECT_ROOT / "target" / "docs"
SERVE_URL = "http://127.0.0.1:8080"
#: The generated shop: small, it only needs every table to exist with its columns.
GENERATED = {"leads": 60, "days": 7, "seed": 11, "end_date": dt.date(2026, 10, 31)}


def build_docs(settings: Settings, out: Path) -> Path:
    """``dbt docs generate --static`` against ``settings``' warehouse into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    pipeline.run_dbt(settings, ["docs", "generate", "--static", "--target-path", str(out),
                                "--quiet"], quiet=True)
    return out


def _from_generated_shop(base: Settings, out: Path) -> None:
    from orchestration.generator import generate

    with tempfile.TemporaryDirectory(prefix="leadscore-docs-") as tmp:
        root = Path(tmp)
        settings = dataclasses.replace(
            base,
            landing_dir=root / "landing",
            duckdb_path=root / "warehouse.duckdb",
            serving_dir=root / "serving",
            gx_docs_dir=root / "gx_docs",
            duckdb_temp_dir=root / "tmp",
            extra_env={**base.extra_env, "DBT_TARGET_PATH": str(root / "target"),
                       "DBT_LOG_PATH": str(root / "logs")},
        )
        print(f"docs: building a small generated shop in {root} to read column types from "
              "(about a minute)", flush=True)
        generate(settings.landing_dir, bad_row_share=0.0, **GENERATED)
        pipeline.load_landing(settings)
        as_of = (GENERATED["end_date"] + dt.timedelta(days=1)).isoformat()
        pipeline.run_dbt(settings, ["build", "--quiet", "--exclude-resource-type", "test",
                                    "unit_test"], as_of=as_of, quiet=True)
        build_docs(settings, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.docs",
        description="Build the dbt docs site (models, columns, tests, lineage) and say how "
                    "to open it.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the site is written (default: target/docs)")
    parser.add_argument("--generated", action="store_true",
                        help="read column types from a small generated shop even when the "
                             "demo warehouse exists")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    out = args.out.resolve()
    source = None
    try:
        if not args.generated and settings.duckdb_path.exists():
            try:
                with pipeline.refresh_lock(settings):
                    print(f"docs: reading column types from {settings.duckdb_path}", flush=True)
                    build_docs(settings, out)
                source = str(settings.duckdb_path)
            except pipeline.RefreshAlreadyRunning:
                print(f"docs: a refresh is writing {settings.duckdb_path}; using a generated "
                      "shop instead", flush=True)
        if source is None:
            _from_generated_shop(settings, out)
            source = "a small generated shop"
    except pipeline.DbtCommandFailed as exc:
        print(f"docs: not built: {exc}", file=sys.stderr)
        return 1
    serve = ("make docs-serve" if out == DEFAULT_OUT.resolve()
             else f"python -m http.server 8080 --bind 127.0.0.1 --directory {out}")
    print(
        f"\ndbt docs written to {out} (column types from {source}).\n"
        f"Open them:\n"
        f"  {serve}\n"
        f"      then {SERVE_URL} in a browser (Ctrl-C stops the server)\n"
        f"  or, without a server, open {out / 'static_index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
