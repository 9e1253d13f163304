"""``leadscore run`` publishes on every shop shape: the whole refresh (landing gate, dbt
build and tests, GX mart gate, serving export), not only ``dbt build``.

One tiny shop (60 leads, 10 days) supplies every shape: its profiles (``leads/``) and
events come from the demo generator, its orders are written here so that every lead has
bought (an orders-only shop of a few dozen buyers; the generator's shops have few buyers).
A shape is the subset of entity folders copied into the run's landing folder.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    END_DATE,
    Workspace,
    orchestration_session,
    workspace,
)

from orchestration import serving
from orchestration.refresh import refresh

LEADS = 60
DAYS = 10

#: shape -> the landing folders it feeds (leads/ = profiles)
SHAPES: dict[str, tuple[str, ...]] = {
    "orders_only": ("orders",),
    "events_only": ("events",),
    "profiles_and_orders": ("leads", "orders"),
    "profiles_only": ("leads",),
}


def write_orders(path: Path, leads: int, end_date: dt.date, days: int) -> None:
    """1-4 orders per lead over the last ``days`` days, amounts 15-300, a few refunded."""
    first = end_date - dt.timedelta(days=days - 1)
    rows = []
    for i in range(1, leads + 1):
        for k in range(1 + (i * 7) % 4):
            ordered = dt.datetime.combine(first + dt.timedelta(days=(i + 3 * k) % days),
                                          dt.time(8 + (i + k) % 12, (i * 13) % 60))
            rows.append({
                "order_id": f"o{i:03d}-{k}",
                "lead_id": f"L{i:06d}",
                "ordered_at": ordered.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "amount": round(15 + (i * 37 + k * 11) % 285 + 0.5, 2),
                "currency": "EUR",
                "status": "refunded" if (i + k) % 9 == 0 else "completed",
                "item_count": 1 + (i + k) % 3,
                "updated_at": ordered.strftime("%Y-%m-%dT%H:%M:%SZ"),
            })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orchestration.generator import generate

    root = tmp_path_factory.mktemp("tiny_shop")
    generate(root, leads=LEADS, days=DAYS, seed=11, end_date=END_DATE, bad_row_share=0)
    shutil.rmtree(root / "orders")
    write_orders(root / "orders" / "orders.jsonl", LEADS, END_DATE, DAYS)
    return root


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shop_shape_publishes(shape: str, tiny_shop: Path, workspace: Workspace) -> None:
    for entity in SHAPES[shape]:
        shutil.copytree(tiny_shop / entity, workspace.landing_dir / entity)
    result = refresh(workspace.settings(), as_of=AS_OF)  # raises RefreshFailed when blocked

    manifest = serving.read_manifest(workspace.serving_dir)
    assert manifest is not None and manifest["run_id"] == result.run_id
    assert manifest["as_of"] == "2024-07-01 00:00:00"
    assert manifest["row_counts"]["lead_scores"] > 50  # enough leads for every mart check
    assert all(c.passed for c in result.checks)
    (mart,) = [c for c in result.checks if c.check == "gx_lead_scores"]
    # the gate knows the shop's shape and says what it did not judge and why
    fed = mart.metadata["shop_feeds"]
    assert fed == {"profiles": "leads" in SHAPES[shape], "events": "events" in SHAPES[shape],
                   "orders": "orders" in SHAPES[shape]}
    # (the workspaces train no model: the probability checks say so, in every shape)
    not_run = [r for r in mart.metadata["not_run"] if not r.startswith("purchase probability")]
    assert len(mart.metadata["not_run"]) == len(not_run) + 1
    if "leads" in SHAPES[shape]:
        assert not_run == []
    else:
        assert len(not_run) == 1 and "fit grade" in not_run[0] and "no profiles" in not_run[0]
        assert "not run: " + not_run[0] in result.report
