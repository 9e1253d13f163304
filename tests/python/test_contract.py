"""The landing contract is written once per language: check the copies agree."""

from __future__ import annotations

import re

import yaml

from orchestration import landing
from orchestration.config import PROJECT_ROOT


def test_dbt_sources_document_every_contract_column():
    sources = yaml.safe_load((PROJECT_ROOT / "models/staging/landing/_landing__sources.yml").read_text())
    tables = {t["name"]: [c["name"] for c in t["columns"]] for t in sources["sources"][0]["tables"]}
    for entity, columns in landing.CONTRACT.items():
        assert tables[entity] == [*columns, *landing.METADATA_COLUMNS], entity


def test_macro_lists_the_same_columns():
    macro = (PROJECT_ROOT / "macros/landing_columns.sql").read_text()
    for entity, columns in landing.CONTRACT.items():
        block = re.search(rf"'{entity}': \[(.*?)\]", macro, re.S).group(1)
        assert re.findall(r"'(\w+)'", block) == list(columns), entity


def test_event_types_seed_is_the_documented_vocabulary():
    seed = (PROJECT_ROOT / "seeds/reference/event_types.csv").read_text().splitlines()[1:]
    vocabulary = {line.split(",")[0] for line in seed}
    assert {
        "page_view", "product_view", "category_view", "search", "add_to_cart", "remove_from_cart",
        "checkout_started", "purchase", "email_open", "email_click", "form_submit", "signup", "login",
        "unsubscribe",
    } <= vocabulary
