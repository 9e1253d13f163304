"""Drive headless Chromium over the DevTools protocol (a websocket, the ``websockets``
package): open a local page, wait until it says it is done, and collect what a person
would see go wrong — console errors, uncaught exceptions, blocked requests — with the
state of the page's charts. Used by the score report's browser test and for its
screenshot; nothing here reaches the network.
"""

from __future__ import annotations

import json
import re
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
    """A headless Chromium with a throw-away profile, and a DevTools session on its tab."""
    with tempfile.TemporaryDirectory(prefix="leadscore-chromium-") as profile:
        proc = subprocess.Popen(
            [chromium, *FLAGS, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
