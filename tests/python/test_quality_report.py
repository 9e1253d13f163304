"""The quality results read offline: the index of every validation the gates ran, with its
status and time, loading nothing from the internet and linking only to files that exist."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import great_expectations as gx
import pandas as pd

from orchestration.quality.gx_runner import GxValidator


class Page(HTMLParser):
    """The external references, links and validation rows of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []  # href of <link>, src of <script> / <img>
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.rows: list[list[str]] = []  # cells of <tr class="validation">
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "link":
            self.assets.append(values.get("href") or "")
        elif tag in ("script", "img") and values.get("src"):
            self.assets.append(values["src"] or "")
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        elif tag == "tr" and "validation" in (values.get("class") or "").split():
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def suite(name: str) -> gx.ExpectationSuite:
    result = gx.ExpectationSuite(name=name)
    result.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(
        column="lead_id", description="every row names its lead", severity="critical"))
    return result


def read(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_quality_index_lists_every_validation_and_reads_offline(tmp_path: Path) -> None:
    docs = tmp_path / "gx_docs"
    landing = GxValidator(docs / "landing")
    landing.validate(pd.DataFrame({"lead_id": ["L1", "L2"]}), suite("landing_events"),
                     "events/day1.csv")
    landing.validate(pd.DataFrame({"lead_id": ["L1", None, None]}), suite("landing_orders"),
                     "orders/day1.csv")
    landing.build_docs()
    mart = GxValidator(docs / "mart")
    mart.validate(pd.DataFrame({"lead_id": ["L1"]}), suite("mart_lead_scores"), "marts.lead_scores")
    mart.build_docs()

    index = docs / "index.html"
    page = read(index)
    # nothing from a CDN: styles and scripts are inline (or relative files that exist)
    remote = [a for a in page.assets if re.match(r"^(https?:)?//", a)]
    assert remote == []
    # one row per validation, newest first: time, gate, batch, status
    assert len(page.rows) == 3
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
    assert all(stamp.match(row[0]) for row in page.rows), page.rows
    status = {row[2]: row[3] for row in page.rows}
    assert status["events/day1.csv"].startswith("passed")
    assert status["orders/day1.csv"].startswith("FAILED")
    assert status["marts.lead_scores"].startswith("passed")
    assert [row[1] for row in page.rows] == ["mart", "landing", "landing"]
    # what failed is on the page itself, not only behind a link
    text = index.read_text(encoding="utf-8")
    assert "every row names its lead" in text and "2 of 3" in text
    # every link leads to a file that exists (or to a section of this page)
    for href in page.links:
        target, _, fragment = href.partition("#")
        assert not re.match(r"^(https?:)?//", target), href
        if target:
            assert (docs / target).is_file(), href
        else:
            assert fragment in page.ids, href
    # a later run adds its validations; the earlier ones stay listed
    again = GxValidator(docs / "landing")
    again.validate(pd.DataFrame({"lead_id": ["L3"]}), suite("landing_events"), "events/day2.csv")
    again.build_docs()
    assert [row[2] for row in read(index).rows][:2] == ["events/day2.csv", "marts.lead_scores"]
