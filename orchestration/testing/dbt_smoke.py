"""`make dbt-test`: every dbt model, seed, data test and unit test on a small generated shop.

Runs in a throw-away folder (its own landing files, warehouse, dbt target and logs), so it
never touches the demo warehouse and can run beside a refresh. The data set keeps bad rows
of every quarantine kind on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from orchestration import pipeline
from orchestration.config import Settings
from orchestration.generator import generate

END_DATE = dt.date(2026, 10, 31)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="leadscore-dbt-test-") as tmp:
        root = Path(tmp)
        os.environ.update(
            {
                "LEADSCORE_LANDING_DIR": str(root / "landing"),
                "LEADSCORE_DUCKDB_PATH": str(root / "warehouse.duckdb"),
                "LEADSCORE_SERVING_DIR": str(root / "serving"),
                "LEADSCORE_DUCKDB_TEMP_DIR": str(root / "tmp"),
                "DBT_TARGET_PATH": str(root / "target"),
                "DBT_LOG_PATH": str(root / "logs"),
            }
        )
        settings = Settings.from_env()
        summary = generate(settings.landing_dir, leads=400, days=21, seed=11, end_date=END_DATE)
        print(f"generated {summary.rows} landing rows with bad rows {summary.bad_rows}")
        pipeline.load_landing(settings)
        # every resource type, unit tests included
        pipeline.run_dbt(settings, ["build"], as_of=(END_DATE + dt.timedelta(days=1)).isoformat())
    return 0


if __name__ == "__main__":
    sys.exit(main())
