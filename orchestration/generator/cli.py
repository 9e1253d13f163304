"""Command line: ``python -m orchestration.generator --out DIR ...``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from orchestration.arguments import OneLineParser, day_range, iso_date, whole_number

from .campaigns import DEFAULT_UPLIFT
from .core import default_end_date, generate


def _bad_row_share(text: str) -> float:
    """argparse type of --bad-row-share: 0 <= F < 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < 1.0:  # nan fails too
        raise argparse.ArgumentTypeError(f"must be a number with 0 <= F < 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the generator (every value checked when parsed: one-line errors)."""
    p = OneLineParser(
        prog="leadscore generate",
        description="Generate a realistic demo shop's landing files (events, leads, orders), "
        "bad rows included, one file per entity and day. Same arguments = identical files.",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="landing folder to write (events/, leads/, orders/ inside); required")
    p.add_argument("--truth-out", type=Path, default=None, metavar="DIR",
                   help="also write the orders of the 30 days after --end-date here, for "
                   "`leadscore backtest --truth-dir` (default: not written)")
    p.add_argument("--leads", type=whole_number(1), default=20_000, metavar="N",
                   help="leads in the shop, at least 1 (default 20000)")
    p.add_argument("--days", type=whole_number(1), default=90, metavar="D",
                   help="days of history ending at --end-date, at least 1 (default 90)")
    p.add_argument("--seed", type=whole_number(0), default=42, metavar="S",
                   help="random seed, 0 or more (default 42)")
    p.add_argument("--end-date", type=iso_date, default=None, metavar="YYYY-MM-DD",
                   help="last day of the history (default: yesterday, UTC)")
    p.add_argument("--bad-row-share", type=_bad_row_share, default=0.01, metavar="F",
                   help="bad rows added per valid row, 0 <= F < 1 (default 0.01)")
    p.add_argument("--day-range", type=day_range, default=None, metavar="START:STOP",
                   help="only write the days with index START <= i < STOP, 0 = the first day "
                   "(default: every day)")
    p.add_argument("--campaign-uplift", type=_uplift, default=DEFAULT_UPLIFT, metavar="U",
                   help="the weekly randomised campaign's effect: the chance that a sent lead "
                   "buys because of it, 0 <= U <= 1; 'none' writes no campaign_sends "
                   f"(default {DEFAULT_UPLIFT})")
    return p


def _uplift(text: str) -> float | None:
    """argparse type of --campaign-uplift: 0 <= U <= 1, or none."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number with 0 <= U <= 1 or none, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    began = time.perf_counter()
    summary = generate(
        out_dir=args.out,
        truth_out=args.truth_out,
        leads=args.leads,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date or default_end_date(),
        bad_row_share=args.bad_row_share,
        day_range=args.day_range,
        campaign_uplift=args.campaign_uplift,
    )
    elapsed = time.perf_counter() - began
    print(f"generated {summary.first_date} .. {summary.last_date} into {summary.out_dir} in {elapsed:.1f}s")
    print(f"files: {len(summary.files_written)}  rows: {summary.rows}")
    print(f"bad rows: {summary.bad_rows_by_kind}")
    if args.truth_out is not None:
        print(f"truth: {summary.truth_rows} orders in {len(summary.truth_files)} files under {args.truth_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
