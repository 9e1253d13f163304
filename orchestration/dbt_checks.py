"""Descriptions of the Dagster asset checks made from dbt data tests.

dagster-dbt takes a check's description from the test's ``meta.description`` only, which
none of our 300-odd generic tests has; writing one by hand per ``not_null`` would be noise.
So a check is described by, in this order:

1. the test's own ``description:`` in YAML, or ``meta: {description: ...}``;
2. a singular test's leading SQL comment (``tests/dbt/*.sql`` all start with one that
   says what the test guarantees);
3. a sentence built from the generic test and its arguments
   ("lead_id of lead_scores is never null.").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_REF = re.compile(r"""(?:ref|source)\(\s*((?:'[^']*'|"[^"]*")(?:\s*,\s*(?:'[^']*'|"[^"]*"))*)\s*\)""")


def _relation(text: Any) -> str:
    """``ref('x')`` -> ``x``; ``source('landing', 'events')`` -> ``landing.events``."""
    match = _REF.search(str(text))
    if not match:
        return str(text)
    return ".".join(part.strip().strip("'\"") for part in match.group(1).split(","))


def _values(values: Any) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list | tuple) else str(values)


def _range(kwargs: Mapping[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    inclusive = kwargs.get("inclusive", True) not in (False, "false", "False")
    if low is not None and high is not None:
        if low == high:
            return f"exactly {low}"
        return f"from {low} to {high}" + ("" if inclusive else " (exclusive)")
    if low is not None:
        return f"at least {low}" if inclusive else f"above {low}"
    if high is not None:
        return f"at most {high}" if inclusive else f"below {high}"
    return "any value"


def _generic_sentence(name: str, model: str, column: str | None,
                      kwargs: Mapping[str, Any]) -> str:
    col = f"{column} of {model}" if column else model
    if name == "not_null":
        return f"{col} is never null."
    if name == "unique":
        return f"{col} is unique: no two rows share a value."
    if name == "accepted_values":
        return f"{col} is one of: {_values(kwargs.get('values', []))}."
    if name == "relationships":
        return (f"Every {col} exists in {_relation(kwargs.get('to'))}"
                f".{kwargs.get('field', column)}.")
    if name == "accepted_range":
        return f"{col} is {_range(kwargs)}."
    if name == "unique_combination_of_columns":
        return f"One row per ({_values(kwargs.get('combination_of_columns', []))}) in {model}."
    if name == "expression_is_true":
        where = kwargs.get("where_clause")
        rows = f"every row of {model}" + (f" where {where}" if where else "")
        expression = kwargs.get("expression", "")
        return f"True for {rows}: {column + ' ' if column else ''}{expression}."
    if name == "row_count_between":
        if kwargs.get("max_value") is None and kwargs.get("min_value") in (1, "1"):
            return f"{model} is not empty."
        return f"{model} has {_range(kwargs)} rows."
    if name == "rows_equal_count":
        return f"{model} has as many rows as {_relation(kwargs.get('other'))}."
    if name == "rows_accounted_for":
        return (f"Every row of {model} is either staged ({_relation(kwargs.get('staged'))}) "
                f"or quarantined ({_relation(kwargs.get('quarantined'))}): nothing is lost.")
    arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("model", "column_name"))
    return f"dbt test {name} on {col}" + (f" ({arguments})." if arguments else ".")


def _leading_comment(sql: str) -> str:
    """The first block of ``--`` comment lines of a SQL file, as one paragraph."""
    lines = []
    for line in sql.lstrip().splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped[2:].strip())
    return " ".join(line for line in lines if line)


def describe_test(test: Mapping[str, Any]) -> str:
    """A description of a dbt data test (a manifest node) for people reading the check."""
    meta = test.get("config", {}).get("meta") or test.get("meta") or {}
    explicit = (test.get("description") or "").strip() or str(meta.get("description") or "").strip()
    severity = str(test.get("config", {}).get("severity") or "error").lower()
    where = test.get("config", {}).get("where")
    suffix = f" (dbt test, severity {severity}" + (f", on rows where {where})" if where else ")")
    if explicit:
        return " ".join(explicit.split()) + suffix
    metadata = test.get("test_metadata")
    if not metadata:  # a singular test: tests/dbt/<name>.sql
        comment = _leading_comment(test.get("raw_code") or "")
        return (comment or f"Singular dbt test {test['name']}: returns the offending rows.") + suffix
    kwargs = metadata.get("kwargs") or {}
    model = _relation(kwargs.get("model", ""))
    return _generic_sentence(metadata["name"], model, test.get("column_name"), kwargs) + suffix


def data_test_ids(manifest_path: Path) -> list[str]:
    """The unique ids of the dbt data tests of a manifest (unit tests are not data tests:
    they live under ``unit_tests`` and run in ``make test`` only)."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return sorted(uid for uid, node in manifest["nodes"].items()
                  if node["resource_type"] == "test")
