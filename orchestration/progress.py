"""What a refresh is doing while it runs, for the person (or log collector) watching.

The refresh's steps report here (:func:`step`, :func:`activity`, :func:`dbt_event`); the
command line installs a reporter that shows it (:func:`install`):

- on a terminal, one status line redrawn every second: the step, dbt nodes done of total,
  elapsed time and what is running; finished steps stay above it as plain lines;
- elsewhere (a log file, CI, cron), plain timestamped lines: each step's start and end,
  dbt's progress every ``every_seconds`` (and at each tenth of the nodes), and a
  "still running" line when nothing was said for ``heartbeat_seconds``, so a long build
  never looks hung;
- with ``--log-format json``, the same events as one JSON object per line.

Without a reporter (a run started by the Dagster UI, a schedule or a test) every call is
a no-op: the steps also log to Dagster, which is what the UI shows.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

#: dbt's structured events that end a node (a model, seed or test result, or a skip).
_NODE_DONE = {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult",
              "SkippingDetails", "LogNodeNoOpResult"}


@dataclass
class DbtProgress:
    """dbt's nodes: done of total and which are running (from dbt's JSON log events)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    running: dict[str, str] = field(default_factory=dict)  # unique_id -> name

    def update(self, raw_event: Mapping[str, Any]) -> bool:
        """Take one dbt event; True when it started or finished a node."""
        name = raw_event.get("info", {}).get("name")
        data = raw_event.get("data", {})
        node = data.get("node_info") or {}
        unique_id = node.get("unique_id")
        if name == "LogStartLine" and unique_id:
            self.total = max(self.total, int(data.get("total") or 0))
            self.running[unique_id] = node.get("node_name") or unique_id.split(".")[-1]
            return True
        if name in _NODE_DONE and unique_id:
            self.running.pop(unique_id, None)
            self.done += 1
            self.total = max(self.total, self.done, int(data.get("total") or 0))
            status = str(data.get("status") or node.get("node_status") or "").lower()
            if status in {"error", "fail"}:
                self.failed += 1
            return True
        return False

    def describe(self) -> str:
        text = f"{self.done} of {self.total or '?'} dbt nodes done"
        if self.failed:
            text += f" ({self.failed} failed)"
        return text

    def running_text(self, limit: int = 2) -> str:
        names = list(self.running.values())
        if not names:
            return ""
        shown = ", ".join(names[:limit])
        return shown + (f" +{len(names) - limit}" if len(names) > limit else "")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class Reporter:
    """Receives the refresh's events; the base class ignores them (no reporter installed)."""

    def step_started(self, step: str, title: str) -> None: ...

    def step_finished(self, step: str, seconds: float, ok: bool, outcome: str = "") -> None: ...

    def activity(self, text: str) -> None: ...

    def dbt(self, state: DbtProgress) -> None: ...

    def close(self) -> None: ...


class _Stateful(Reporter):
    """Keeps the current step, activity and dbt state, and ticks on a thread."""

    def __init__(self, stream: TextIO, tick_seconds: float) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.step_title = ""
        self.step_started_at = self.started
        self.activity_text = ""
        self.dbt_state: DbtProgress | None = None
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ticker, args=(tick_seconds,),
                                        name="leadscore-progress", daemon=True)
        self._thread.start()

    def _ticker(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            with self.lock:
                self.tick()

    def tick(self) -> None: ...

    def step_started(self, step: str, title: str) -> None:
        with self.lock:
            self.step_title, self.step_started_at = title, time.monotonic()
            self.activity_text, self.dbt_state = "", None

    def activity(self, text: str) -> None:
        with self.lock:
            self.activity_text = text

    def dbt(self, state: DbtProgress) -> None:
        with self.lock:
            self.dbt_state = state

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the refresh
            pass


class TerminalReporter(_Stateful):
    """One status line, redrawn in place; finished steps stay above it."""

    def __init__(self, stream: TextIO | None = None, tick_seconds: float = 1.0) -> None:
        self.shown = False
        super().__init__(stream or sys.stderr, tick_seconds)

    def _status(self) -> str:
        parts = [self.step_title or "starting"]
        if self.dbt_state is not None and self.dbt_state.total:
            parts.append(self.dbt_state.describe())
            running = self.dbt_state.running_text()
            if running:
                parts.append(f"running {running}")
        elif self.activity_text:
            parts.append(self.activity_text)
        line = f"[{_clock(time.monotonic() - self.started)}] " + " · ".join(parts)
        width = shutil.get_terminal_size((100, 20)).columns - 1
        return line if len(line) <= width else line[: max(width - 1, 10)] + "…"

    def tick(self) -> None:
        self._write("\r\033[2K" + self._status())
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self._write("\r\033[2K")
            self.shown = False

    def step_started(self, step: str, title: str) -> None:
        super().step_started(step, title)
        with self.lock:
            self.tick()

    def step_finished(self, step: str, seconds: float, ok: bool, outcome: str = "") -> None:
        with self.lock:
            self._clear()
            mark = "done" if ok else "FAILED"
            detail = f": {outcome}" if outcome else ""
            self._write(f"  {self.step_title or step} {mark} in {seconds:.1f} s{detail}\n")
            self.step_title, self.activity_text, self.dbt_state = "", "", None

    def close(self) -> None:
        super().close()
        with self.lock:
            self._clear()


class PlainReporter(_Stateful):
    """Timestamped lines for logs: nothing is redrawn, something is said at least every
    ``heartbeat_seconds`` while the run lasts."""

    def __init__(self, stream: TextIO | None = None, every_seconds: float = 30.0,
                 heartbeat_seconds: float = 60.0, tick_seconds: float = 1.0) -> None:
        self.every = every_seconds
        self.heartbeat = heartbeat_seconds
        self.last_line = time.monotonic()
        self.last_dbt_line = 0.0
        self.last_tenth = 0
        super().__init__(stream or sys.stderr, tick_seconds)

    def line(self, text: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        self._write(f"{stamp} {text}\n")
        self.last_line = time.monotonic()

    def step_started(self, step: str, title: str) -> None:
        super().step_started(step, title)
        with self.lock:
            self.line(f"{title} ...")

    def step_finished(self, step: str, seconds: float, ok: bool, outcome: str = "") -> None:
        with self.lock:
            mark = "done" if ok else "FAILED"
            detail = f": {outcome}" if outcome else ""
            self.line(f"{self.step_title or step} {mark} in {seconds:.1f} s{detail}")
            self.step_title, self.activity_text, self.dbt_state = "", "", None

    def dbt(self, state: DbtProgress) -> None:
        with self.lock:
            self.dbt_state = state
            tenth = 10 * state.done // state.total if state.total else 0
            now = time.monotonic()
            if tenth > self.last_tenth or now - self.last_dbt_line >= self.every:
                self.last_tenth, self.last_dbt_line = tenth, now
                self._dbt_line()

    def _dbt_line(self) -> None:
        state = self.dbt_state
        if state is None:
            return
        running = state.running_text(limit=3)
        self.line(f"  {state.describe()}" + (f"; running {running}" if running else ""))

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_line < self.heartbeat:
            return
        elapsed = _clock(now - self.step_started_at)
        what = self.step_title or "the refresh"
        if self.dbt_state is not None and self.dbt_state.total:
            running = self.dbt_state.running_text(limit=3)
            self.line(f"  still running ({what}, {elapsed}): {self.dbt_state.describe()}"
                      + (f"; running {running}" if running else ""))
        else:
            activity = f": {self.activity_text}" if self.activity_text else ""
            self.line(f"  still running ({what}, {elapsed}){activity}")


class JsonReporter(PlainReporter):
    """The plain reporter's events as JSON objects, one a line, for log collectors."""

    def line(self, text: str) -> None:
        self.emit({"event": "progress", "message": text.strip()})

    def emit(self, record: dict[str, Any]) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "level": "INFO", "logger": "leadscore.progress", **record}
        if self.dbt_state is not None and self.dbt_state.total:
            record.setdefault("dbt_done", self.dbt_state.done)
            record.setdefault("dbt_total", self.dbt_state.total)
        self._write(json.dumps(record, default=str) + "\n")
        self.last_line = time.monotonic()

    def step_started(self, step: str, title: str) -> None:
        _Stateful.step_started(self, step, title)
        with self.lock:
            self.emit({"event": "step_started", "step": step, "message": f"{title} ..."})

    def step_finished(self, step: str, seconds: float, ok: bool, outcome: str = "") -> None:
        with self.lock:
            self.emit({"event": "step_finished", "step": step, "seconds": round(seconds, 1),
                       "ok": ok, "message": outcome or ("done" if ok else "failed")})
            self.step_title, self.activity_text, self.dbt_state = "", "", None


_current: Reporter = Reporter()


def current() -> Reporter:
    return _current


@contextlib.contextmanager
def install(reporter: Reporter) -> Iterator[Reporter]:
    """Show the refresh's progress with ``reporter`` while the block runs."""
    global _current
    previous, _current = _current, reporter
    try:
        yield reporter
    finally:
        _current = previous
        reporter.close()


def reporter_for(stream: TextIO, log_format: str = "text", verbose: bool = False) -> Reporter:
    """A terminal line on a TTY, timestamped lines elsewhere (and under -v, where log
    lines would tear a redrawn line), JSON lines when asked."""
    if log_format == "json":
        return JsonReporter(stream)
    isatty = getattr(stream, "isatty", lambda: False)
    return TerminalReporter(stream) if isatty() and not verbose else PlainReporter(stream)


class _StepOutcome:
    """What a step says when it ends (``outcome.text = "..."`` inside :func:`step`)."""

    text = ""


@contextlib.contextmanager
def step(name: str, title: str) -> Iterator[_StepOutcome]:
    """Report a step's start and end (with its time, and FAILED when it raises)."""
    outcome = _StepOutcome()
    started = time.monotonic()
    _current.step_started(name, title)
    try:
        yield outcome
    except BaseException:
        _current.step_finished(name, time.monotonic() - started, ok=False, outcome=outcome.text)
        raise
    _current.step_finished(name, time.monotonic() - started, ok=True, outcome=outcome.text)


def activity(text: str) -> None:
    """What the current step is doing now (a file being loaded, ...)."""
    _current.activity(text)


def dbt_event(state: DbtProgress, raw_event: Mapping[str, Any]) -> None:
    """Feed one of dbt's JSON events to ``state`` and report it when a node moved."""
    if state.update(raw_event):
        _current.dbt(state)
