"""Look at a report the way a reader does: a real headless Chromium renders, screenshots and prints it.

Debian's `chromium` package (`apt-get install chromium`) or any Chrome/Chromium on PATH; set
`$HANROCK_CHROMIUM` to use another binary.  Network access is switched off, so a page that
needs anything from outside renders incomplete rather than fetching it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import InputError

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
    "--proxy-bypass-list=<-loopback>",
)  # nothing leaves the machine


def find_chromium() -> str | None:
    """The browser binary, or None when none is installed."""
    if os.environ.get("HANROCK_CHROMIUM"):
        return os.environ["HANROCK_CHROMIUM"]
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


def _run(page: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    binary = find_chromium()
    if binary is None:
        raise InputError(
            "no Chromium found",
            hint="install Debian's chromium package (apt-get install chromium) "
            "or set HANROCK_CHROMIUM to a Chrome/Chromium binary",
        )
    page = Path(page).resolve()
    if not page.exists():
        raise InputError("no such page", page)
    with tempfile.TemporaryDirectory(prefix="hanrock-chromium-") as profile:
        result = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise InputError(f"chromium exited with {result.returncode}: {result.stderr.strip()[-500:]}", page)
    return result


def dump_dom(page: Path) -> str:
    """The page's DOM after Chromium has parsed and laid it out."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 1800) -> Path:
    """A PNG of the page's first `height` pixels at `width` pixels wide."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--window-size={width},{height}", f"--screenshot={png}")
    if not png.exists():
        raise InputError("chromium wrote no screenshot", png)
    return png


def print_pdf(page: Path, pdf: Path) -> Path:
    """The page printed to PDF with its print style sheet (A4/Letter as Chromium's default)."""
    pdf = Path(pdf).resolve()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    if not pdf.exists():
        raise InputError("chromium wrote no PDF", pdf)
    return pdf


__all__ = ["dump_dom", "find_chromium", "print_pdf", "screenshot"]
