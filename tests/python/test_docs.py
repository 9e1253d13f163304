"""`make docs`: the dbt docs open on the project's own overview, whose links all resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

from orchestration.docs import build_docs
from warehouse_helpers import make_settings

#: dbt docs' links to a resource page: #!/model/model.leadscore.lead_scores
DOCS_LINK = re.compile(r"\(#!/(model|seed|source|test|exposure|macro)/([^)]+)\)")


def test_docs_open_on_the_projects_overview(tmp_path: Path) -> None:
    # An empty warehouse is enough for the manifest (the catalog then lists no tables).
    settings = make_settings(tmp_path / "ws")
    out = tmp_path / "docs"
    build_docs(settings, out)  # what `make docs` runs once it has chosen the warehouse
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    overview = manifest["docs"].get("doc.leadscore.__overview__")
    assert overview is not None, "no {% docs __overview__ %} block in the project"
    text = overview["block_contents"]
    for words in ("staging", "intermediate", "scores", "marts", "serving", "seeds/rules",
                  "Where to start"):
        assert words in text
    links = DOCS_LINK.findall(text)
    assert len(links) >= 8
    known = {**manifest["nodes"], **manifest["sources"], **manifest["exposures"]}
    assert sorted(uid for _, uid in links if uid not in known) == []
    for kind, uid in links:
        assert known[uid]["resource_type"] == kind
    assert (out / "catalog.json").exists() and (out / "index.html").exists()
    # static_index.html embeds the manifest: it opens from the file system, no server needed
    assert "Where to start" in (out / "static_index.html").read_text(encoding="utf-8")
