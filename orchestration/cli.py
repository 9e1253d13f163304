"""The ``leadscore`` command: run the pipeline, generate demo data, backtest, benchmark."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestration.config import DEFAULT_LANDING_DIR, Settings


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
    from orchestration import pipeline
    from orchestration.refresh import refresh

    settings = Settings.from_env()
    if args.demo_if_empty and _wants_demo(settings):
        from orchestration.generator import generate

        truth = settings.landing_dir.parent / "truth"
        print(f"Landing folder {settings.landing_dir} is empty: generating demo data ...")
        summary = generate(settings.landing_dir, truth_out=truth)
        print(f"  {sum(summary.rows.values()):,} landing rows {summary.rows}; "
              f"the next 30 days' orders (for `leadscore backtest`) in {truth}")
    result = refresh(
        settings,
        as_of=pipeline.normalise_as_of(args.as_of),
        full_refresh=args.full_refresh,
        wait=args.wait,
    )
    print(result.report)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.generator import main as generator_main

    return generator_main(args.generator_args)


def _days(text: str) -> int:
    """argparse type of --horizon-days: a whole number of days, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of days, at least 1, got {text!r}")
    return value


def cmd_backtest(args: argparse.Namespace) -> int:
    from orchestration.backtest import run_backtest

    settings = Settings.from_env()
    result = run_backtest(
        settings,
        as_of=args.as_of,
        horizon_days=args.horizon_days,
        truth_dir=Path(args.truth_dir) if args.truth_dir else None,
        out_dir=Path(args.out) if args.out else settings.duckdb_path.parent / "backtest",
    )
    for warning in result.warnings:
        print(f"leadscore: warning: {warning}", file=sys.stderr)
    print(result.format())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from orchestration.bench import bench

    result = bench(args.scale, keep=args.keep)
    from orchestration.bench import markdown

    print(markdown(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadscore", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="load new landing files, build and test the models, publish")
    run.add_argument("--as-of", help="score as of this date or UTC timestamp (default: now)")
    run.add_argument("--full-refresh", action="store_true",
                     help="reload every landing file and rebuild every model from scratch")
    run.add_argument("--wait", action="store_true",
                     help="wait for a running refresh to finish instead of exiting")
    run.add_argument("--demo-if-empty", action="store_true",
                     help="generate demo data first when the default landing folder "
                     "(data/landing) is empty or missing")
    run.set_defaults(func=cmd_run)

    back = sub.add_parser("backtest", help="check the scores at a past as_of against the orders that followed")
    back.add_argument("--as-of", required=True, help="score as of this date or UTC timestamp")
    back.add_argument("--horizon-days", type=_days, default=30,
                      help="outcome window in days, at least 1 (default 30)")
    back.add_argument("--truth-dir", help="landing-format folder with the later orders "
                      "(default: the orders in the warehouse)")
    back.add_argument("--out", help="folder for the JSON result (default: data/backtest)")
    back.set_defaults(func=cmd_backtest)

    ben = sub.add_parser("bench", help="measure generation, a full build and a one-day refresh")
    ben.add_argument("--scale", choices=["small", "medium", "large"], default="small")
    ben.add_argument("--keep", action="store_true", help="keep bench/work/<scale> afterwards")
    ben.set_defaults(func=cmd_bench)

    gen = sub.add_parser("generate", help="write a realistic demo shop's landing files",
                         add_help=False)
    gen.add_argument("generator_args", nargs=argparse.REMAINDER)
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:  # the generator owns its options (and its --help)
        from orchestration.generator import main as generator_main

        return generator_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear message, not a traceback, for errors users can act on
        from orchestration.errors import USER_ERRORS

        if isinstance(exc, USER_ERRORS) and not args.verbose:
            print(f"leadscore: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
