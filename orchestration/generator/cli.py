"""Command line: ``python -m orchestration.generator --out DIR ...``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .core import default_end_date, generate


def _day_range(text: str) -> tuple[int, int]:
    start, _, stop = text.partition(":")
    return int(start), int(stop)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the generator."""
    p = argparse.ArgumentParser(prog="leadscore generate", description="Generate synthetic landing-zone files.")
    p.add_argument("--out", type=Path, required=True, help="landing zone directory")
    p.add_argument("--truth-out", type=Path, default=None, help="write the 30 days after --end-date here")
    p.add_argument("--leads", type=int, default=20_000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--end-date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: yesterday UTC)")
    p.add_argument("--bad-row-share", type=float, default=0.01)
    p.add_argument("--day-range", type=_day_range, default=None, metavar="START:STOP",
                   help="only write day indices in [START, STOP)")
    return p


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
