"""Keeping the dbt target folder from growing without limit.

dagster-dbt runs every dbt build in its own folder inside the dbt target folder,
``<op>-<first 7 of the run id>-<7 random hex>`` (``DbtCliResource._get_unique_target_path``),
and never removes it: manifest, run results, compiled and run SQL, dbt's log. After each
build, :func:`dbt_run_folders` removes all but the newest ``keep`` of them.

Two builds may share a target folder (a UI run and ``leadscore run`` on two warehouses):
each holds a shared lock on ``.dbt_runs.lock`` while dbt runs, and pruning needs the lock
exclusively, so a folder in use is never removed; when another build is running the
pruning is skipped (the next build does it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: dagster-dbt's per-invocation folder name: ``dbt_models-1a2b3c4-5d6e7f8``.
RUN_FOLDER = re.compile(r"^[A-Za-z0-9_]+-[0-9a-f]{7}-[0-9a-f]{7}$")
LOCK_NAME = ".dbt_runs.lock"


def run_folders(target: Path) -> list[Path]:
    """dagster-dbt's run folders in ``target``, oldest first."""
    if not target.is_dir():
        return []
    found = [p for p in target.iterdir() if p.is_dir() and RUN_FOLDER.match(p.name)]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def prune_run_folders(target: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` run folders; returns the removed ones."""
    folders = run_folders(target)
    removed = folders[: max(len(folders) - max(keep, 1), 0)]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


@contextlib.contextmanager
def dbt_run_folders(target: Path, keep: int) -> Iterator[None]:
    """Around one dbt build whose run folder dagster-dbt creates in ``target``: marks the
    folder as in use while the block runs, then prunes the run folders to ``keep``."""
    target.mkdir(parents=True, exist_ok=True)
    with (target / LOCK_NAME).open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                log.info("another dbt build is running in %s: old run folders are pruned "
                         "after the next build", target)
            else:
                removed = prune_run_folders(target, keep)
                if removed:
                    log.info("removed %d old dbt run folder(s) from %s (keeping %d)",
                             len(removed), target, keep)
