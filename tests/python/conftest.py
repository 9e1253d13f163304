"""Shared fixtures: isolated warehouses built from small landing folders.

Every warehouse lives in its own temporary folder with its own dbt target and log paths,
so tests never touch the demo data and never share dbt's target/ folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from orchestration.config import Settings
from warehouse_helpers import GENERATED_AS_OF, GENERATED_END, build_warehouse, make_settings, query

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

@pytest.fixture(scope="session")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small generated shop (bad rows included), built with every data test."""
    from orchestration.generator import generate

    settings = make_settings(tmp_path_factory.mktemp("generated"))
    generate(settings.landing_dir, leads=300, days=20, seed=5, end_date=GENERATED_END)
    build_warehouse(settings, GENERATED_AS_OF, tests=True)
    return settings


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[[str], Settings]:
    def factory(name: str) -> Settings:
        return make_settings(tmp_path / name)

    return factory


@pytest.fixture
def warehouse_query() -> Iterator[Callable[[Settings, str], pd.DataFrame]]:
    yield query
