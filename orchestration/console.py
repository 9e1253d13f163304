"""How the ``leadscore`` command talks: output levels and log formats.

- Default: warnings and errors only, plus the refresh's progress (:mod:`progress`) and its
  summary. The libraries' INFO chatter is not shown.
- ``-v``: our own INFO logging, Dagster's step logs (once: Dagster's own console logger
  is silenced, its records come through here) and dbt's output, without third-party noise
  (:data:`NOISE`: GX's decorator registration, alembic's schema migrations of Dagster's
  SQLite storage, GX's metric registry).
- ``--log-format json``: every log record as one JSON object per line (for log
  collectors), the progress too; the run summary is printed as JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import TextIO

#: Loggers whose records below the level given are noise to a user, even under -v.
NOISE: dict[str, int] = {
    "great_expectations._docs_decorators": logging.WARNING,
    "great_expectations.expectations.registry": logging.WARNING,
    "great_expectations.datasource.fluent.config": logging.WARNING,
    "great_expectations.data_context": logging.WARNING,
    "alembic": logging.WARNING,
    "urllib3": logging.WARNING,
    "filelock": logging.WARNING,
}

#: Dagster's log lines start with "<job> - <run id> - "; the step name is what matters.
_DAGSTER_PREFIX = re.compile(r"^[\w.-]+ - [0-9a-f-]{36} - ")


class NoiseFilter(logging.Filter):
    """Drops :data:`NOISE` and shortens Dagster's records to "step - message"."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, level in NOISE.items():
            if (record.name == name or record.name.startswith(name + ".")) \
                    and record.levelno < level:
                return False
        if record.name.startswith("dagster"):
            message = record.getMessage()
            short = _DAGSTER_PREFIX.sub("", message)
            if short != message:
                record.msg, record.args = short, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="seconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure(verbose: bool, log_format: str = "text", stream: TextIO | None = None) -> None:
    """Set up the root logger for the command (called once, by :func:`cli.main`)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(NoiseFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name, level in NOISE.items():
        if not verbose:
            logging.getLogger(name).setLevel(level)
