"""``leadscore validate PATH``: check a delivery against the landing contract, load nothing.

A delivery is one file or a folder laid out like the landing zone (``events/``,
``leads/``, ``orders/``). It is judged by the same code as a real load, in a throw-away
DuckDB file in a temporary folder (the warehouse is never opened):

- every file is read by the loader (:func:`orchestration.landing.load`), so a file that
  would stop a load (unknown type, not UTF-8, a JSON array, a missing required column,
  ...) is reported with the loader's own message; the other files are still judged;
- the new rows of each entity go through the landing gate
  (:meth:`orchestration.quality.landing_suite.LandingGate.validate`): the reasons staging
  would quarantine rows for, counted over every row in DuckDB with the first rows of
  each reason, the quarantine share per file against ``LEADSCORE_MAX_QUARANTINE_SHARE``
  (blocking) and the gate's warnings.

Not judged here: re-deliveries of rows the warehouse already holds (staging marks those
``exact_redelivery`` / ``conflicting_redelivery``; the gate lists duplicates within a
file as a warning).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import landing, landing_formats
from orchestration.config import Settings
from orchestration.quality.report import SuiteReport


class UnknownEntity(ValueError):
    """A single file whose entity cannot be told from its folder (and no --entity)."""


@dataclass
class Validation:
    """What ``leadscore validate`` found."""

    path: Path
    max_share: float
    files: list[tuple[str, str, int]] = field(default_factory=list)  # entity, file, rows
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # file, problem
    reports: dict[str, SuiteReport] = field(default_factory=dict)  # entity -> gate report

    def blocked(self, entity: str) -> list:
        report = self.reports.get(entity)
        return [] if report is None else [
            s for s in report.extra["shares"] if s.share > self.max_share]

    @property
    def passed(self) -> bool:
        """True when the delivery is readable and the landing gate would let it load."""
        return not self.unreadable and not any(self.blocked(e) for e in self.reports)

    def format(self, verbose: bool = False) -> str:
        from orchestration.quality.landing_suite import describe_reasons

        rows = sum(n for _, _, n in self.files)
        lines = [
            f"Validated {self.path} against the landing contract (nothing was loaded): "
            f"{len(self.files)} readable file(s), {rows:,} rows"
            + (f"; {len(self.unreadable)} unreadable file(s)" if self.unreadable else "") + "."
        ]
        for name, problem in self.unreadable:
            lines.append(f"UNREADABLE {name}: {problem}")
        for entity, report in self.reports.items():
            files = [f for e, f, _ in self.files if e == entity]
            total = report.extra["rows"]
            quarantined = sum(report.extra["would_quarantine"].values())
            share = quarantined / total if total else 0.0
            lines.append("")
            lines.append(
                f"{entity}: {len(files)} file(s), {total:,} rows; "
                + (f"{quarantined:,} ({share:.1%}) would be quarantined by staging"
                   if quarantined else "no row would be quarantined"))
            for over in self.blocked(entity):
                lines.append(
                    f"  BLOCKED {over.batch}: {over.quarantined:,} of {over.rows:,} rows "
                    f"({over.share:.1%}) would be quarantined, more than the landing gate's "
                    f"{self.max_share:.0%} (LEADSCORE_MAX_QUARANTINE_SHARE)")
            lines += ["  " + line for line in describe_reasons(
                report.extra["would_quarantine"], report.extra["examples"])]
            lines += [f"  Hint: {hint}" for hint in report.extra["hints"]]
            warnings = report.warnings if verbose else [
                o for o in report.warnings if not _said_by_reasons(o.rule)]
            lines += [f"  {o.describe()}" for o in warnings]
            if not report.extra["shares"]:
                lines.append("  (fewer than 50 rows: too few for the landing gate to judge the "
                             "quarantine share)")
        lines.append("")
        if self.passed:
            lines.append("Result: the delivery would load; the rows above would be quarantined "
                         "by staging with their reason." if any(
                             r.extra["would_quarantine"] for r in self.reports.values())
                         else "Result: the delivery would load, no row quarantined.")
        else:
            why = []
            if self.unreadable:
                why.append(f"{len(self.unreadable)} file(s) cannot be read (a load stops at them)")
            blocked = [e for e in self.reports if self.blocked(e)]
            if blocked:
                why.append(f"the landing gate would block the {', '.join(blocked)} file(s) above")
            lines.append(f"Result: this delivery would not load: {'; '.join(why)}.")
        lines.append("Not judged here: re-deliveries of rows the warehouse already holds "
                     "(staging quarantines them as exact_redelivery / conflicting_redelivery).")
        return "\n".join(lines)


def _said_by_reasons(rule: str) -> bool:
    """Warnings the reason lines already say (a value that does not parse, is empty or
    unknown); the others (ranges, duplicates) are shown."""
    return rule.startswith(("required value filled in", "parses as", "one of the values"))


def _candidates(path: Path, entity: str | None) -> tuple[Path, list[tuple[str, Path, str]]]:
    """(root, [(entity, file, name relative to the root)]) of a delivery."""
    if path.is_file():
        entity = entity or (path.parent.name if path.parent.name in landing.CONTRACT else None)
        if entity is None:
            raise UnknownEntity(
                f"cannot tell which entity {path} holds: put it in an events/, leads/ or "
                "orders/ folder, or pass --entity")
        return path.parent, [(entity, path, path.name)]
    if path.name in landing.CONTRACT and not any(
            (path / e).is_dir() for e in landing.CONTRACT):  # an entity folder itself
        folders = {entity or path.name: path}
    else:
        folders = {e: path / e for e in landing.CONTRACT if (path / e).is_dir()}
    if not folders:
        raise FileNotFoundError(
            f"{path} holds no events/, leads/ or orders/ folder: nothing to validate "
            "(a delivery is one file, or a folder laid out like the landing zone)")
    found = []
    for name, folder in folders.items():
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            if not landing.is_hidden(file.relative_to(folder).parts):
                found.append((name, file, file.relative_to(path).as_posix()))
    return path, found


def validate_delivery(path: Path, settings: Settings, entity: str | None = None) -> Validation:
    """Judge the delivery at ``path`` as a load would, in a throw-away DuckDB file."""
    from orchestration.quality.landing_suite import LandingGate

    path = path.expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: nothing to validate")
    _, candidates = _candidates(path, entity)
    result = Validation(path=path, max_share=settings.max_quarantine_share)
    with tempfile.TemporaryDirectory(prefix="leadscore-validate-") as tmp:
        staged_root = Path(tmp) / "landing"
        names: dict[str, str] = {}  # staged relative path -> name shown
        for entity_name, file, shown in candidates:
            if landing.file_format(file) is None:
                result.unreadable.append((shown, landing.unsupported_type_problem(file)))
                continue
            # one folder per file keeps its name (in messages) and the delivery's order
            staged = staged_root / entity_name / f"{len(names):05d}" / file.name
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.symlink_to(file.resolve())
            # the entity folder's dialect options (_format.yml) go with it
            for folder in [file.parent, *file.parent.parents]:
                if (folder / landing_formats.FORMAT_FILE).is_file():
                    landing_formats.copy_format_file(folder, staged_root / entity_name)
                    break
                if folder == path or folder.name == entity_name:
                    break
            names[staged.relative_to(staged_root).as_posix()] = shown
        while names:  # a file that cannot be read is reported and left out; the rest is judged
            gate = LandingGate(dataclasses.replace(settings, gx_docs_dir=Path(tmp) / "docs"),
                               docs=False)
            database = Path(tmp) / f"validate_{len(result.unreadable)}.duckdb"
            con = duckdb.connect(str(database), config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
                "temp_directory": str(Path(tmp) / "spill"),
            })
            with contextlib.closing(con):
                try:
                    load = landing.load(con, staged_root, inspect=gate.validate,
                                        limits=settings.landing_limits)
                except landing.LandingFileError as error:
                    relative = error.path.relative_to(staged_root).as_posix()
                    if relative not in names:  # a folder's _format.yml: no file can load
                        result.unreadable.append((relative, error.problem))
                        break
                    result.unreadable.append((names.pop(relative), error.problem))
                    error.path.unlink()
                    continue
            result.files = [(f.entity, names[f.relative_path], rows) for f, rows in load.files]
            for report in gate.reports:
                entity_name = report.suite.removeprefix("landing_")
                result.reports[entity_name] = _renamed(report, names)
            break
    return result


def _renamed(report: SuiteReport, names: dict[str, str]) -> SuiteReport:
    """The report with the staged file names replaced by the delivery's."""
    from orchestration.quality.landing_suite import Example, FileShare

    def name(staged: str) -> str:
        return names.get(staged, staged)

    extra = dict(report.extra)
    extra["shares"] = [dataclasses.replace(s, batch=name(s.batch)) if isinstance(s, FileShare)
                       else s for s in extra["shares"]]
    extra["examples"] = {
        reason: [dataclasses.replace(e, file=name(e.file)) for e in rows if isinstance(e, Example)]
        for reason, rows in extra["examples"].items()}
    hints = []
    for hint in extra["hints"]:
        for staged, shown in names.items():
            hint = hint.replace(f"file {staged},", f"file {shown},")
        hints.append(hint)
    extra["hints"] = hints
    outcomes = []
    for outcome in report.outcomes:
        observed, examples = outcome.observed, list(outcome.examples)
        for staged, shown in names.items():
            observed = observed.replace(staged, shown)
            examples = [e.replace(f"file {staged},", f"file {shown},") for e in examples]
        outcomes.append(dataclasses.replace(outcome, observed=observed, examples=tuple(examples)))
    return dataclasses.replace(report, extra=extra, outcomes=tuple(outcomes))
