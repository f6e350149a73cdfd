"""Look at a report the way a reader does: a real headless Chromium renders, screenshots and prints it.

A page is an HTML file or a local web address (`http://localhost:3000/...`, e.g. the Dagster UI).
Debian's `chromium` package (`apt-get install chromium`) or any Chrome/Chromium on PATH; set
`$HANROCK_CHROMIUM` to use another binary.  Network access is switched off, so a page that
needs anything from outside renders incomplete rather than fetching it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from hanrock_core.base.deployment import read_deployment
from hanrock_core.base.errors import InputError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
    "--proxy-server=127.0.0.1:9",
)  # nothing leaves the machine: every address but this machine's own goes to a closed port
NO_LOOPBACK = "--proxy-bypass-list=<-loopback>"  # for a file: not even this machine's servers
LOOPBACK = ("http://localhost:", "http://127.0.0.1:", "https://localhost:", "https://127.0.0.1:")


def find_chromium() -> str | None:
    """The browser binary, or None when none is installed."""
    if read_deployment().chromium:
        return read_deployment().chromium
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


Page = Path | str  # an HTML file, or an http(s) address on this machine


def _address(page: Page) -> str:
    """The address Chromium opens: a web address on this machine as given, a file as its file:// URI."""
    if isinstance(page, str) and page.startswith(("http://", "https://")):
        if not page.startswith(LOOPBACK):
            raise InputError(
                "only a page served on this machine can be opened", page, hint="use http://localhost:PORT/..."
            )
        return page
    path = Path(page).resolve()
    if not path.exists():
        raise InputError("no such page", path)
    return path.as_uri()


def _run(page: Page, *args: str, timeout: float = 120, wait_ms: int = 0) -> subprocess.CompletedProcess:
    """Chromium on the page; `wait_ms` > 0 lets a script-built page (the Dagster UI) finish loading first."""
    address = _address(page)  # a page that may not be opened is refused whether or not a browser is installed
    binary = find_chromium()
    if binary is None:
        raise InputError(
            "no Chromium found",
            hint="install Debian's chromium package (apt-get install chromium) "
            "or set HANROCK_CHROMIUM to a Chrome/Chromium binary",
        )
    waiting = (f"--virtual-time-budget={wait_ms}",) if wait_ms > 0 else ()
    loopback = () if address.startswith(LOOPBACK) else (NO_LOOPBACK,)
    with tempfile.TemporaryDirectory(prefix="hanrock-chromium-") as profile:
        result = subprocess.run(
            [binary, *FLAGS, *loopback, f"--user-data-dir={profile}", *waiting, *args, address],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise InputError(f"chromium exited with {result.returncode}: {result.stderr.strip()[-500:]}", page)
    return result


def dump_dom(page: Page, wait_ms: int = 0) -> str:
    """The page's DOM after Chromium has parsed and laid it out."""
    return _run(page, "--dump-dom", wait_ms=wait_ms).stdout


def screenshot(page: Page, png: Path, width: int = 1280, height: int = 1800, wait_ms: int = 0) -> Path:
    """A PNG of the page's first `height` pixels at `width` pixels wide."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--window-size={width},{height}", f"--screenshot={png}", wait_ms=wait_ms)
    if not png.exists():
        raise InputError("chromium wrote no screenshot", png)
    return png


def print_pdf(page: Page, pdf: Path) -> Path:
    """The page printed to PDF with its print style sheet (A4/Letter as Chromium's default)."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    if not pdf.exists():
        raise InputError("chromium wrote no PDF", pdf)
    return pdf


__all__ = ["dump_dom", "find_chromium", "print_pdf", "screenshot"]
