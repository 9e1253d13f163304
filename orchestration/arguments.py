"""Command-line argument checking shared by ``leadscore`` and ``leadscore generate``.

Every value is checked when it is parsed (argparse ``type=``), so a bad argument is one
line on stderr and exit code 2, before any work: ``leadscore run: error: argument
--as-of: must be a date (YYYY-MM-DD) or an ISO-8601 timestamp, got ''``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block): what is wrong and
    where the help is. Sub-parsers made with ``add_subparsers`` inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def whole_number(minimum: int, what: str = "a whole number") -> Callable[[str], int]:
    """argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, at least {minimum}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def share(text: str) -> float:
    """argparse type: a share from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # nan fails too
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def iso_date(text: str) -> dt.date:
    """argparse type: a calendar date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a date YYYY-MM-DD (e.g. 2026-11-01), got {text!r}") from None


def as_of(text: str) -> str:
    """argparse type: a date or ISO-8601 timestamp, normalised to UTC ``YYYY-MM-DD HH:MM:SS``
    (the same rule as the Dagster run configuration, :func:`pipeline.normalise_as_of`)."""
    from orchestration.pipeline import normalise_as_of

    problem = (f"must be a date (YYYY-MM-DD) or an ISO-8601 timestamp "
               f"(e.g. 2026-11-01 or 2026-11-01T06:00:00Z), got {text!r}")
    if not text.strip():
        raise argparse.ArgumentTypeError(problem)
    try:
        value = normalise_as_of(text)
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    assert value is not None
    return value


def day_range(text: str) -> tuple[int, int]:
    """argparse type: ``START:STOP``, day indices with 0 <= START < STOP."""
    start, sep, stop = text.partition(":")
    try:
        bounds = (int(start), int(stop)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not 0 <= bounds[0] < bounds[1]:
        raise argparse.ArgumentTypeError(
            f"must be START:STOP, two day indices with 0 <= START < STOP (e.g. 0:10), got {text!r}")
    return bounds
