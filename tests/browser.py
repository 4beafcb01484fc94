"""Headless Chromium (Debian's package) for the browser tests: load a local page, read its DOM or a screenshot.

Chromium runs with no network features and a throw-away profile; pages are
``file://`` URLs, so a test proves that what it loads needs no network.
``--virtual-time-budget`` lets the page's scripts (and their promises) run to
the end before the DOM is dumped, without sleeping in the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTALL_HINT = "apt-get update && apt-get install -y chromium"
TOOLS = Path(os.environ.get("MLCI_TEST_TOOLS", REPO_ROOT / ".cache" / "test-tools"))
MERMAID_JS = TOOLS / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
CHROMIUM = os.environ.get(
    "MLCI_CHROMIUM"
)  # read at import: the sealed test env drops MLCI_* variables


def chromium_path() -> str:
    """The browser, or a test failure that says how to install it (never a silent skip)."""
    candidate = CHROMIUM or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(candidate).exists():
        pytest.fail(
            f"headless Chromium is missing: install it with `{INSTALL_HINT}` "
            "(or point MLCI_CHROMIUM at a Chromium binary)",
            pytrace=False,
        )
    return candidate


def mermaid_js() -> Path:
    if not MERMAID_JS.exists():
        pytest.fail(
            f"the mermaid package is missing ({MERMAID_JS}): run scripts/fetch-test-tools",
            pytrace=False,
        )
    return MERMAID_JS


def _run(page: Path, *flags: str, budget_ms: int = 20_000) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="mlci-chromium-") as profile:
        args = [
            chromium_path(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            "--allow-file-access-from-files",
            f"--virtual-time-budget={budget_ms}",
            # every http(s) request goes to a dead local port: a page that needs the network fails
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            *flags,
            page.resolve().as_uri(),
        ]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def dump_dom(page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 1400) -> Path:
    _run(page, f"--screenshot={out}", f"--window-size={width},{height}", "--hide-scrollbars")
    assert out.exists(), "chromium wrote no screenshot"
    return out
