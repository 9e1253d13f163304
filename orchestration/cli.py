"""The leadscore command: run the pipeline, validate a delivery, generate demo data,
backtest, train the predictive score, rebuild the score report, benchmark. `leadscore COMMAND --help` documents
each command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestration import console, progress
from orchestration.arguments import OneLineParser, as_of, whole_number
from orchestration.config import DEFAULT_LANDING_DIR, PATH_ENV, Settings
from orchestration.landing import CONTRACT as CONTRACT_ENTITIES

#: Seconds ``leadscore erase`` waits for a running refresh (orchestration.privacy).
DEFAULT_LOCK_TIMEOUT = 600

#: The path flags beside their environment variables (a flag wins).
PATH_FLAGS: dict[str, str] = {
    "landing_dir": "--landing-dir",
    "duckdb_path": "--warehouse",
    "serving_dir": "--serving-dir",
}


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings of the environment with the command's path flags applied (and
    LEADSCORE_DBT_TARGET checked: duckdb or spark, a clear error otherwise)."""
    from orchestration.spark import dbt_target

    dbt_target()
    return Settings.from_env({key: getattr(args, key, None) for key in PATH_FLAGS})


def _setting_name(args: argparse.Namespace, key: str) -> str:
    """How the user set a path, for messages: the flag if given, else the variable."""
    return PATH_FLAGS[key] if getattr(args, key, None) else PATH_ENV[key]


def _landing_is_empty(landing_dir: Path) -> bool:
    return not landing_dir.exists() or not any(p.is_file() for p in landing_dir.rglob("*"))


def _wants_demo(settings: Settings) -> bool:
    """``--demo-if-empty`` fills the default landing folder (``make run`` on a fresh
    clone); a landing folder the user chose is never filled with demo data."""
    if not _landing_is_empty(settings.landing_dir):
        return False
    if settings.landing_dir.resolve() == DEFAULT_LANDING_DIR.resolve():
        return True
    if settings.landing_dir.is_dir():
        print(f"leadscore: note: --demo-if-empty generates demo data only in {DEFAULT_LANDING_DIR}; "
              f"running on the empty landing folder {settings.landing_dir}", file=sys.stderr)
    return False  # a folder that does not exist: refresh() says so


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration import landing, pipeline
    from orchestration.refresh import refresh

    settings = settings_of(args)
    # progress on stderr (a live line on a terminal, timestamped lines in a log), the
    # summary on stdout
    with progress.install(progress.reporter_for(sys.stderr, args.log_format, args.verbose)):
        if args.demo_if_empty and _wants_demo(settings):
            from orchestration.generator import generate

            truth = settings.landing_dir.parent / "truth"
            with progress.step("generate", f"Generating a demo shop in {settings.landing_dir} "
                               "(the landing folder is empty)") as step:
                summary = generate(settings.landing_dir, truth_out=truth)
                step.text = (f"{sum(summary.rows.values()):,} landing rows; the next 30 days' "
                             f"orders (for `leadscore backtest`) in {truth}")
        landing.require_folder(settings.landing_dir, _setting_name(args, "landing_dir"))
        result = refresh(
            settings,
            as_of=pipeline.normalise_as_of(args.as_of),
            full_refresh=args.full_refresh,
            wait=args.wait,
            echo_dbt=args.verbose and args.log_format == "text",
        )
    if args.log_format == "json":
        print(json.dumps(result.summary, default=str))
    else:
        print(result.report)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.generator import main as generator_main

    return generator_main(args.generator_args)


def cmd_backtest(args: argparse.Namespace) -> int:
    from orchestration.backtest import results_dir, run_backtest

    settings = settings_of(args)
    result = run_backtest(
        settings,
        as_of=args.as_of,
        horizon_days=args.horizon_days,
        truth_dir=Path(args.truth_dir) if args.truth_dir else None,
        out_dir=Path(args.out) if args.out else results_dir(settings),
        probability=not args.no_probability,
        train=not args.no_train,
    )
    for warning in result.warnings:
        print(f"leadscore: warning: {warning}", file=sys.stderr)
    print(result.format())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from orchestration import report
    from orchestration.backtest import results_dir

    settings = settings_of(args)
    backtests = Path(args.backtest_dir) if args.backtest_dir else results_dir(settings)
    written = report.write(settings.serving_dir, backtests)
    for key, note in written.notes.items():
        print(f"leadscore: note: {key}: {note}", file=sys.stderr)
    print(f"Score report: {written.describe()}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from orchestration.predictive.registry import train

    report = train(settings_of(args), as_of=args.as_of)
    print(report.format())
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from orchestration.predictive.scoring import score

    result = score(settings_of(args))
    predictions = result.predictions
    print(f"Scored {len(predictions):,} leads with {result.version} ({result.method}: "
          f"{result.note}) into predictive.lead_predictions; mean purchase probability "
          f"{predictions['purchase_probability'].mean():.3f}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.dagster_events:
        from orchestration import bench_dagster
        from orchestration.config import PROJECT_ROOT

        figures = bench_dagster.run(out_dir=PROJECT_ROOT / "bench" / "results")
        print(f"Dagster events of a refresh ({figures['assets']} assets, {figures['checks']} "
              f"checks): Dagster's default SQLite storage {figures['dagster_default_sqlite_s']} s, "
              f"leadscore's {figures['leadscore_sqlite_s']} s, in memory {figures['in_memory_s']} s "
              f"(load average {figures['load_average_1m']}); {figures['written_to']}")
        return 0
    from orchestration.bench import bench

    result = bench(args.scale, keep=args.keep, days=args.days, predictive=args.predictive,
                   end_date=args.end_date)
    from orchestration.bench import markdown

    print(markdown(result))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from orchestration import privacy

    ids = privacy.read_ids(args.lead_ids or [], Path(args.from_file) if args.from_file else None)
    receipt = privacy.erase(settings_of(args), ids, lock_timeout=args.lock_timeout,
                            compact=not args.no_compact)
    print(receipt.format())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from orchestration.validate import UnknownEntity, validate_delivery

    try:
        result = validate_delivery(Path(args.path), Settings.from_env(), entity=args.entity)
    except UnknownEntity as exc:
        print(f"leadscore validate: error: {exc}", file=sys.stderr)
        return 2
    print(result.format(verbose=args.verbose))
    return 0 if result.passed else 1


_PATH_HELP = {
    "landing_dir": ("--landing-dir", "DIR", "the landing zone: events/, leads/, orders/ "
                    "(default: $LEADSCORE_LANDING_DIR, else data/landing)"),
    "duckdb_path": ("--warehouse", "FILE", "the DuckDB file dbt builds "
                    "(default: $LEADSCORE_DUCKDB_PATH, else data/warehouse.duckdb)"),
    "serving_dir": ("--serving-dir", "DIR", "what BI tools read "
                    "(default: $LEADSCORE_SERVING_DIR, else data/serving)"),
}


def _path_flags(*keys: str) -> argparse.ArgumentParser:
    """Path flags (--landing-dir, --warehouse, --serving-dir) beside their variables."""
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_argument_group(
        "paths (a flag wins over its environment variable)",
        "A relative path given as a flag is relative to the current folder; one in an "
        "environment variable is relative to the project root.")
    for key in keys:
        flag, metavar, text = _PATH_HELP[key]
        group.add_argument(flag, dest=key, metavar=metavar, help=text)
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="leadscore", description=__doc__,
        epilog="Settings not given as flags come from LEADSCORE_* environment variables "
        "(README, 'Configuration').")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show dbt's output, Dagster's step logs and our own detail, "
                        "and full errors with tracebacks (default: progress, warnings and the "
                        "summary)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="json: log lines, progress and the run summary as JSON objects, "
                        "one a line, for log collectors (default: text)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", parents=[_path_flags(*PATH_FLAGS)], help="load new landing files, build and test the models, publish",
        description="Load the new landing files (through the landing gate), build and test "
        "every dbt model, validate the mart and publish it to the serving folder.")
    run.add_argument("--as-of", type=as_of, metavar="DATE_OR_TIMESTAMP",
                     help="score as of this date or ISO-8601 timestamp, UTC unless it has an "
                     "offset (default: now)")
    run.add_argument("--full-refresh", action="store_true",
                     help="reload every landing file and rebuild every model from scratch "
                     "(default: only what is new)")
    run.add_argument("--wait", action="store_true",
                     help="wait for a running refresh of the same warehouse to finish "
                     "(default: exit with a message)")
    run.add_argument("--demo-if-empty", action="store_true",
                     help="generate demo data first when the default landing folder "
                     "(data/landing) is empty or missing (default: off; `make run` sets it)")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser(
        "validate", help="check a delivery against the landing contract without loading it",
        description="Check a delivery (one file, or a folder laid out like the landing zone: "
        "events/, leads/, orders/) against the landing contract, with the loader and the "
        "landing gate of a real load, in a throw-away database: which files cannot be read, "
        "which rows staging would quarantine and why (with file and row), and whether the "
        "landing gate would block the load. The warehouse is not opened. Exit code 0: the "
        "delivery would load; 1: a file cannot be read or the gate would block it.")
    val.add_argument("path", metavar="PATH", help="a landing file, or a folder with events/, "
                     "leads/ and/or orders/ sub-folders (or one such folder)")
    val.add_argument("--entity", choices=sorted(CONTRACT_ENTITIES),
                     help="what a single file holds (default: the name of its folder)")
    val.set_defaults(func=cmd_validate)

    back = sub.add_parser(
        "backtest", parents=[_path_flags("duckdb_path")],
        help="check the scores at a past as_of against the orders that followed",
        description="Rebuild the scores at a past as_of on a copy of the warehouse and "
        "measure them against the orders of the following days (conversion per decile, "
        "lift, AUC), with the purchase probability at the same as_of beside the rule score "
        "and an RFM quintile sum (AUC, PR-AUC, lift, calibration).")
    back.add_argument("--as-of", type=as_of, required=True, metavar="DATE_OR_TIMESTAMP",
                      help="score as of this date or UTC timestamp (required)")
    back.add_argument("--horizon-days", type=whole_number(1, "a whole number of days"),
                      default=30, metavar="DAYS",
                      help="outcome window in days, at least 1 (default 30)")
    back.add_argument("--truth-dir", metavar="DIR",
                      help="landing-format folder with the later orders, e.g. the generator's "
                      "--truth-out (default: the orders in the warehouse)")
    back.add_argument("--out", metavar="DIR", help="folder for the JSON result "
                      "(default: backtest/ beside the warehouse, data/backtest)")
    back.add_argument("--no-probability", action="store_true",
                      help="measure the rule scores only (skip the predictive step; default: the "
                      "probability is measured beside them)")
    back.add_argument("--no-train", action="store_true",
                      help="when no model trained at or before --as-of is registered, leave "
                      "the probability unavailable instead of training one for this backtest "
                      "(on the copy; the live registry is never changed; default: train one)")
    back.set_defaults(func=cmd_backtest)

    rep = sub.add_parser(
        "report", parents=[_path_flags("serving_dir", "duckdb_path")],
        help="rebuild the score report (one offline HTML page) from the serving layer",
        description="Write report/index.html in the serving folder from what was published "
        "there (serving.duckdb, manifest.json, run_summary.json) and the latest `leadscore "
        "backtest` result: score distribution, fit grade x engagement tier grid (leads, and "
        "conversion from the backtest), lifecycle funnel, conversion, lift and calibration "
        "per decile, score movement, top reasons, category interest, the run's quarantine "
        "and quality gates. The warehouse is not opened (a refresh may hold it); a chart "
        "without data is a note. `leadscore run` writes it after every publication.")
    rep.add_argument("--backtest-dir", metavar="DIR",
                     help="folder of `leadscore backtest` results; the newest is shown "
                     "(default: backtest/ beside the warehouse, data/backtest)")
    rep.set_defaults(func=cmd_report)

    tra = sub.add_parser(
        "train", parents=[_path_flags("duckdb_path")],
        help="train the purchase-probability model point in time and register it",
        description="Rebuild int_lead_features at past snapshot dates on a copy of the "
        "warehouse, label each snapshot with the purchases of the following "
        "prediction_horizon_days, train LightGBM on the older snapshots, calibrate it on the "
        "latest ones (or fall back to the rule score's observed conversion per band), write "
        "the artefacts to models/ beside the warehouse and register them in "
        "predictive.model_registry and predictive.model_evaluations. The vars "
        "prediction_horizon_days, training_* and rules_calibration_* of dbt_project.yml set "
        "the snapshots, the thresholds and the hyper-parameters.")
    tra.add_argument("--as-of", type=as_of, metavar="DATE_OR_TIMESTAMP",
                     help="train as of this date or UTC timestamp: every label window ends at "
                     "or before it (default: the as_of of the warehouse's latest refresh)")
    tra.set_defaults(func=cmd_train)

    pre = sub.add_parser(
        "predict", parents=[_path_flags("duckdb_path")],
        help="score the current leads with the latest registered model",
        description="Read intermediate.int_lead_features (the features at the as_of of the "
        "latest refresh), apply the latest model of predictive.model_registry and replace "
        "predictive.lead_predictions: purchase_probability, propensity_score (0-100), "
        "propensity_method, propensity_reasons, model_version. marts.lead_scores is not "
        "changed.")
    pre.set_defaults(func=cmd_predict)

    ben = sub.add_parser(
        "bench", help="measure generation, a full build and a one-day refresh",
        description="Generate a shop in bench/work/SCALE and time generation, a full build "
        "and a one-day refresh; results go to bench/results/.")
    ben.add_argument("--scale", choices=["small", "medium", "large"], default="small",
                     help="small: 20k leads, medium: 200k, large: 2M (default small)")
    ben.add_argument("--keep", action="store_true",
                     help="keep bench/work/SCALE afterwards (default: removed)")
    ben.add_argument("--days", type=whole_number(2, "a whole number of days"), metavar="DAYS",
                     help="days of history instead of the scale's (small 90, medium and "
                     "large 80); training uses every snapshot from 102 days on (default: the scale's)")
    ben.add_argument("--end-date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                     help="the day before the one-day refresh's as_of (default 2026-10-31: the "
                     "refresh is the first of a month, when the decay state rolls forward)")
    ben.add_argument("--predictive", action="store_true",
                     help="also time `leadscore train` and `leadscore predict` after the "
                     "refresh (peak memory included; default: off)")
    ben.add_argument("--dagster-events", action="store_true",
                     help="instead, time recording a refresh's Dagster events (60 assets, 340 "
                     "checks) on Dagster's default SQLite storage, leadscore's and in memory "
                     "(default: off)")
    ben.set_defaults(func=cmd_bench)

    era = sub.add_parser(
        "erase", parents=[_path_flags("duckdb_path", "serving_dir")],
        help="erase leads on request (GDPR), everywhere, and keep them erased",
        description="Remove the leads, the anonymous ids stitched to them and their e-mail "
        "hash from every warehouse table (landing copies, staging, quarantine, intermediate, "
        "scores, marts, history, predictions) in one transaction, re-publish the serving "
        "layer, and record salted hashes in the erasure ledger so that re-delivered landing "
        "rows of these people are dropped at load. Waits for a running refresh. Prints the "
        "rows removed per table (README, 'Personal data: inventory, retention, erasure').")
    ids = era.add_mutually_exclusive_group(required=True)
    ids.add_argument("--lead-id", dest="lead_ids", action="append", metavar="ID",
                     help="a lead id to erase (repeat the flag for several; default: none, "
                     "this or --from-file is required)")
    ids.add_argument("--from-file", metavar="FILE",
                     help="a text file with one lead id a line, blank lines and # comments "
                     "skipped (default: none, this or --lead-id is required)")
    era.add_argument("--lock-timeout", type=whole_number(0, "a whole number of seconds"),
                     default=int(DEFAULT_LOCK_TIMEOUT), metavar="SECONDS",
                     help="how long to wait for a running refresh to finish "
                     f"(default {int(DEFAULT_LOCK_TIMEOUT)})")
    era.add_argument("--no-compact", action="store_true",
                     help="do not rewrite the warehouse file afterwards (DuckDB keeps the deleted "
                     "rows' bytes in the file until it is rewritten; default: rewrite, which "
                     "needs free disk for one copy of the warehouse)")
    era.set_defaults(func=cmd_erase)

    gen = sub.add_parser("generate", help="write a realistic demo shop's landing files "
                         "(`leadscore generate --help` for its options)", add_help=False)
    gen.add_argument("generator_args", nargs=argparse.REMAINDER)
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:  # the generator owns its options (and its --help)
        from orchestration.generator import main as generator_main

        return _run(lambda: generator_main(argv[1:]), verbose=False)
    parser = build_parser()
    args = parser.parse_args(argv)
    console.configure(args.verbose, args.log_format)
    return _run(lambda: args.func(args), verbose=args.verbose)


def _run(command: Callable[[], int | None], verbose: bool) -> int:
    """Run a command; an error a user can act on is one message, not a traceback
    (``-v`` shows the traceback, with the libraries' own text)."""
    try:
        return int(command() or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from orchestration.errors import USER_ERRORS

        if isinstance(exc, USER_ERRORS) and not verbose:
            print(f"leadscore: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
