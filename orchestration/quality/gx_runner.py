"""Run a GX 1.x expectation suite on a pandas DataFrame and write Data Docs.

One :class:`GxValidator` per gate and run: an *ephemeral* data context (nothing is written
to the repository; the only files are the Data Docs HTML under the configured folder),
a pandas data source, and a Data Docs site rooted at ``docs_dir``.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402  (analytics must be off before the import)
import pandas as pd  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from orchestration.quality.html_report import ValidationRecord, record_validations  # noqa: E402
from orchestration.quality.report import ExpectationOutcome, SuiteReport  # noqa: E402

SITE_NAME = "leadscore"
#: Row numbers (the ``_source_row`` of a landing file, or the key of the mart) that GX
#: reports beside unexpected values, so a failure names the rows to look at.
MAX_EXAMPLES = 5


def _fmt_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


#: How index columns are named in messages.
INDEX_LABELS = {"_source_file": "file", "_source_row": "row"}


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _run_name(batch_name: str) -> str:
    """Data Docs store runs by name in a folder: no path separators. The name is a
    delivered file name, and GX's index page renders it as HTML: markup characters are
    escaped (a file called <img onerror=...>.csv shows as text, runs nothing)."""
    return html.escape(batch_name, quote=True).replace("/", "__").replace("\\", "__")


_MARKUP = re.compile(r"[&<>\"']")


def _escape(value: Any) -> Any:
    return html.escape(value, quote=True) if isinstance(value, str) and _MARKUP.search(value) \
        else value


def _unescape(value: Any) -> Any:
    return html.unescape(value) if isinstance(value, str) and "&" in value else value


def markup_escaped(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with markup characters in its text escaped (``<`` -> ``&lt;``).

    GX's Data Docs put unexpected values and index values into their pages as raw HTML, so
    a delivered value such as ``<img src=x onerror=...>`` would run in the reader's browser.
    Escaping is one-to-one and leaves text without ``& < > " '`` alone, so nulls, value
    sets (seeds hold no such characters) and uniqueness judge exactly as before; the
    examples read back from GX are unescaped (:meth:`GxValidator._examples`)."""
    text_columns = [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c].dtype)
                    or pd.api.types.is_string_dtype(frame[c].dtype)]
    if not text_columns:
        return frame
    escaped = frame.copy()
    for column in text_columns:
        escaped[column] = frame[column].map(_escape)
    return escaped


def _fmt_share(count: int, total: int) -> str:
    share = (count / total) if total else 0.0
    return f"{count:,} of {total:,} ({share:.1%})"


class GxValidator:
    """Validates DataFrames against suites and renders the results as Data Docs."""

    def __init__(self, docs_dir: Path, index_columns: Sequence[str] = ()):
        self.docs_dir = docs_dir
        self.index_columns = list(index_columns)
        # An in-memory context whose only Data Docs site is ours (GX's default ephemeral
        # context would also create a throw-away site in the system temp folder).
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        )
        config.data_docs_sites = {
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self._source = self.context.data_sources.add_pandas("leadscore")
        self._definitions: dict[str, gx.ValidationDefinition] = {}
        #: Validations not yet on the offline page (html_report), with their GX run id.
        self._unlisted: list[tuple[SuiteReport, RunIdentifier]] = []

    def _definition(self, suite: gx.ExpectationSuite) -> gx.ValidationDefinition:
        if suite.name not in self._definitions:
            suite = self.context.suites.add(suite)
            asset = self._source.add_dataframe_asset(suite.name)
            batch = asset.add_batch_definition_whole_dataframe(suite.name)
            self._definitions[suite.name] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
            )
        return self._definitions[suite.name]

    def validate(
        self,
        frame: pd.DataFrame,
        suite: gx.ExpectationSuite,
        batch_name: str,
        notes: Sequence[str] = (),
        extra: dict[str, Any] | None = None,
        adjust: Callable[[tuple[ExpectationOutcome, ...]], tuple[ExpectationOutcome, ...]]
        | None = None,
    ) -> SuiteReport:
        """Validate ``frame``; the run is named after the batch in the Data Docs.

        ``adjust`` rewrites GX's outcomes before the report is made (and listed on the
        offline page): a gate that validates a sample puts its exact counts there."""
        definition = self._definition(suite)
        frame = markup_escaped(frame)
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": MAX_EXAMPLES,
        }
        index_columns = [c for c in self.index_columns if c in frame.columns]
        if index_columns:
            result_format["unexpected_index_column_names"] = index_columns
        run_id = RunIdentifier(run_name=_run_name(batch_name), run_time=datetime.now(timezone.utc))
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format=result_format,
            run_id=run_id,
        )
        outcomes = tuple(self._outcome(r, len(frame), index_columns) for r in result.results)
        if adjust is not None:
            outcomes = adjust(outcomes)
        report = SuiteReport(
            suite=suite.name,
            batch=batch_name,
            row_count=len(frame),
            outcomes=outcomes,
            notes=tuple(notes),
            extra=extra or {},
        )
        self._unlisted.append((report, run_id))
        return report

    def build_docs(self) -> Path:
        """Render every validation of this validator as GX Data Docs, and add the new ones
        to the offline page of every gate (``html_report``, the folder above); returns that
        offline page (GX's own pages load their styles from CDNs)."""
        self.context.build_data_docs(site_names=[SITE_NAME])
        pages = {key.run_id: "/".join((self.docs_dir.name, "validations", *key.to_tuple())) + ".html"
                 for key in self.context.validation_results_store.list_keys()}
        records = [
            ValidationRecord.from_report(self.docs_dir.name, report, run_id.run_time,
                                         pages.get(run_id))
            for report, run_id in self._unlisted
        ]
        self._unlisted = []
        record_validations(self.docs_dir.parent, records)
        return self.docs_dir.parent / "index.html"

    def _outcome(self, result: Any, rows: int, index_columns: list[str]) -> ExpectationOutcome:
        config = result.expectation_config
        meta = config.meta or {}
        kwargs = config.kwargs
        details = result.result or {}
        exception = (result.exception_info or {}).get("exception_message")
        blocking = str(config.severity.value if hasattr(config.severity, "value")
                       else config.severity) == "critical"
        return ExpectationOutcome(
            expectation=config.type,
            # meta "column" names the column a check is about (None: the whole batch)
            column=meta["column"] if "column" in meta else (
                kwargs.get("column")
                or (", ".join(kwargs["column_list"]) if "column_list" in kwargs else None)),
            rule=config.description or config.type,
            success=bool(result.success),
            blocking=blocking,
            observed=(f"an error: {exception}" if exception
                      else self._observed(details, rows, meta)),
            examples=self._examples(details, index_columns, kwargs.get("column")),
            key=meta.get("key"),
        )

    @staticmethod
    def _observed(details: dict[str, Any], rows: int, meta: dict[str, Any]) -> str:
        if "unexpected_count" in details:
            total = details.get("element_count", rows)
            if meta.get("judged_on_non_null"):  # a column whose nulls are out of scope
                total = int(total) - int(details.get("missing_count") or 0)
            what = meta.get("unexpected_label", "unexpected")
            return f"{_fmt_share(int(details['unexpected_count']), int(total))} {what}"
        if "observed_value" in details:
            return f"observed value {_fmt_value(details['observed_value'])}"
        return f"{rows:,} rows checked"

    @staticmethod
    def _examples(
        details: dict[str, Any], index_columns: list[str], column: str | None
    ) -> tuple[str, ...]:
        indexed = details.get("partial_unexpected_index_list") or []
        if indexed and index_columns and isinstance(indexed[0], dict):
            examples = []
            for item in indexed[:MAX_EXAMPLES]:
                value = _unescape(item.get(column)) if column else None
                where = ", ".join(
                    f"{INDEX_LABELS.get(c, c)} {_unescape(item.get(c))}" for c in index_columns
                )
                examples.append(where if _is_missing(value) else f"{_fmt_value(value)} ({where})")
            return tuple(examples)
        values = details.get("partial_unexpected_list") or []
        return tuple(_fmt_value(_unescape(v)) for v in values[:MAX_EXAMPLES])
