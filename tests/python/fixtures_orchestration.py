"""Fixtures of the orchestration tests (Dagster, GX gates, serving, refresh).

Imported explicitly by the test modules (``from fixtures_orchestration import ...``) so
they do not depend on a shared conftest. Every workspace lives in its own temporary
folder and reaches the code through the documented environment variables; the dbt
target folder is one temporary folder per test session (dagster-dbt gives every dbt
build its own sub-folder inside it, so concurrent builds never share artifacts).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.assets import temporary_environment
from orchestration.config import PROJECT_ROOT, Settings

#: Small generated data: 150 leads, 10 days (the tests' own data, never data/).
LEADS = 150
DAYS = 10
SEED = 11
END_DATE = dt.date(2024, 6, 30)
AS_OF = "2024-07-01"


@dataclass(frozen=True)
class Workspace:
    """A landing folder, a warehouse, a serving folder and Data Docs, all under ``root``."""

    root: Path
    env: dict[str, str]

    @property
    def landing_dir(self) -> Path:
        return Path(self.env["LEADSCORE_LANDING_DIR"])

    @property
    def serving_dir(self) -> Path:
        return Path(self.env["LEADSCORE_SERVING_DIR"])

    def settings(self, **overrides: str) -> Settings:
        """Settings read from this workspace's environment (plus ``overrides``)."""
        with patched_environ({**self.env, **overrides}):
            return Settings.from_env()

    def subprocess_env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
        return {**env, **self.env, **overrides}


def workspace_env(root: Path) -> dict[str, str]:
    return {
        "LEADSCORE_LANDING_DIR": str(root / "landing"),
        "LEADSCORE_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "LEADSCORE_SERVING_DIR": str(root / "serving"),
        "LEADSCORE_GX_DOCS_DIR": str(root / "gx_docs"),
        "LEADSCORE_DUCKDB_TEMP_DIR": str(root / "tmp"),
        "LEADSCORE_DUCKDB_MEMORY_LIMIT": "1GB",
        "LEADSCORE_DUCKDB_THREADS": "2",
        "LEADSCORE_DBT_THREADS": "2",
        # a 10-day shop has no history to learn from; tests that train say so
        "LEADSCORE_TRAIN_IF_MISSING": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


#: Set environment variables for the duration of a block (the code location's own helper).
patched_environ = temporary_environment


def generate_landing(
    landing_dir: Path, day_range: tuple[int, int] | None = None, bad_row_share: float = 0.01,
    days: int = DAYS, seed: int = SEED,
) -> None:
    """The demo generator's files (same world for every day range)."""
    from orchestration.generator import generate

    generate(landing_dir, leads=LEADS, days=days, seed=seed, end_date=END_DATE,
             bad_row_share=bad_row_share, day_range=day_range)


@pytest.fixture(scope="session")
def orchestration_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session-wide: dbt's target/log folders in tmp, analytics off, no DAGSTER_HOME
    (runs go to an ephemeral instance)."""
    root = tmp_path_factory.mktemp("dbt_target")
    values = {
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    home = os.environ.pop("DAGSTER_HOME", None)
    with patched_environ(values):
        yield root
    if home is not None:
        os.environ["DAGSTER_HOME"] = home


@pytest.fixture
def workspace(tmp_path: Path, orchestration_session: Path) -> Workspace:
    """An empty workspace of one test."""
    return Workspace(tmp_path, workspace_env(tmp_path))


@dataclass
class Built:
    """A warehouse refreshed once through the whole Dagster graph (shared, session)."""

    workspace: Workspace
    result: object  # orchestration.refresh.RefreshResult


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, orchestration_session: Path) -> Built:
    """Days 0-8 of the demo data, refreshed in process with ``leadscore run``'s code path;
    day 9 is left for the tests that need new files."""
    from orchestration.refresh import refresh

    root = tmp_path_factory.mktemp("built")
    ws = Workspace(root, workspace_env(root))
    generate_landing(ws.landing_dir, day_range=(0, DAYS - 1))
    result = refresh(ws.settings(), as_of=AS_OF)
    return Built(ws, result)


def leadscore_command(*args: str) -> list[str]:
    """``leadscore`` of this interpreter's environment (works without PATH)."""
    script = Path(sys.executable).with_name("leadscore")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "orchestration.cli", *args]


def copy_landing(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


__all__ = [
    "AS_OF",
    "Built",
    "PROJECT_ROOT",
    "Workspace",
    "built",
    "copy_landing",
    "generate_landing",
    "leadscore_command",
    "orchestration_session",
    "patched_environ",
    "workspace",
    "workspace_env",
]
