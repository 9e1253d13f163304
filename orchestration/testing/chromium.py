"""Drive headless Chromium over the DevTools protocol (a websocket, the ``websockets``
package): open a local page, wait until it says it is done, and collect what a person
would see go wrong — console errors, uncaught exceptions, blocked requests — with the
state of the page's charts. Used by the score report's browser test and for its
screenshot; nothing here reaches the network.
"""

from __future__ import annotations

import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions"]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    state: str | None
    #: Per element with data-chart: its key -> {"svg": n, "canvas": n, "rendered": attr}.
    charts: dict[str, dict[str, Any]]
    notes: list[str]
    errors: list[str] = field(default_factory=list)
    #: The value of a JavaScript expression the caller asked for (``probe``).
    probe: Any = None


class DevTools:
    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")


@contextmanager
def browser(chromium: str, timeout: float = 30) -> Iterator[DevTools]:
    """A headless Chromium with a throw-away profile, and a DevTools session on its tab.

    Chromium runs in its own process group, and the whole group (renderer, zygote and
    utility processes too) is stopped before the profile is removed: a child still
    writing to the profile made the removal fail ("Directory not empty")."""
    profile = tempfile.mkdtemp(prefix="leadscore-chromium-")
    proc = subprocess.Popen(
        [chromium, *FLAGS, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port = _devtools_port(proc, timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        from websockets.sync.client import connect

        # proxy=None: the page's DevTools socket is local, whatever *_proxy says
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=20,
                     proxy=None) as socket:
            yield DevTools(socket)
    finally:
        _stop(proc)
        _remove_profile(Path(profile))


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop Chromium and every process it started (its process group)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the group leader is gone; give its children the same moment to go
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(proc.pid):
            time.sleep(0.1)
        if not _group_alive(proc.pid):
            break
    if proc.stderr is not None:
        proc.stderr.close()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, which write nothing, don't count)."""
    proc_fs = Path("/proc")
    if proc_fs.is_dir():
        for stat in proc_fs.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _remove_profile(profile: Path, attempts: int = 20) -> None:
    """Remove the throw-away profile; a file written while it is being removed is retried."""
    for _ in range(attempts):
        shutil.rmtree(profile, ignore_errors=True)
        if not profile.exists():
            return
        time.sleep(0.25)
    shutil.rmtree(profile)  # still there: let the error say why


def _devtools_port(proc: subprocess.Popen[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    seen = []
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            return int(match.group(1))
    raise RuntimeError("Chromium did not start its DevTools server:\n" + "".join(seen[-20:]))


CHART_STATE = """JSON.stringify({
  state: document.body ? document.body.getAttribute('data-report-state') : null,
  charts: Array.prototype.map.call(document.querySelectorAll('[data-chart]'), function (b) {
    return [b.getAttribute('data-chart'), {svg: b.querySelectorAll('svg').length,
            canvas: b.querySelectorAll('canvas').length,
            marks: b.querySelectorAll('svg .mark-rect path, svg .mark-rect, svg path, svg text').length,
            rendered: b.getAttribute('data-rendered')}];
  }),
  notes: Array.prototype.map.call(document.querySelectorAll('[data-note]'), function (n) {
    return n.getAttribute('data-note');
  })
})"""


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("exception: " + str(details.get("exception", {}).get(
                "description", details.get("text"))))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
    return errors


def inspect_page(path: Path, chromium: str, timeout: float = 60,
                 probe: str | None = None) -> PageReport:
    """Open ``path`` (a local HTML file), wait for ``data-report-state="done"`` on its body
    (or ``timeout``), and report its charts, notes and every error the browser logged."""
    with browser(chromium) as tools:
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            tools.call(domain)
        tools.call("Page.navigate", {"url": path.resolve().as_uri()})
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = json.loads(tools.evaluate(CHART_STATE) or "{}")
            if state.get("state") == "done":
                break
            time.sleep(0.2)
        time.sleep(0.3)  # errors logged right after the last chart
        tools.evaluate("1")
        value = tools.evaluate(probe) if probe else None
        return PageReport(state=state.get("state"), charts=dict(state.get("charts") or []),
                          notes=list(state.get("notes") or []), errors=_errors(tools.events),
                          probe=value)


def screenshot(path: Path, out: Path, chromium: str, width: int = 1400,
               height: int = 3000) -> None:
    """``chromium --screenshot`` of a local page, after its scripts ran."""
    with tempfile.TemporaryDirectory(prefix="leadscore-chromium-") as profile:
        subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
             f"--window-size={width},{height}", "--virtual-time-budget=15000",
             f"--screenshot={out.resolve()}", path.resolve().as_uri()],
            check=True, capture_output=True, timeout=120)
