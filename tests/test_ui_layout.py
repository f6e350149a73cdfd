"""The answer on one screen at laptop width, checked in a real browser (issue 43).

A tiny H1 study runs from the command line on a persistent instance; `dagster dev` serves it; headless
Chromium (Debian's, driven by Playwright) opens the `h1_significance` page and its `comparisons_decided`
check at 1280x800 and at 1600x1200, and measures what it laid out: no part of the metadata may scroll
sideways or be cut (element extents against the window and against their own boxes, not a screenshot
comparison), every comparison's verdict must be there in full, and the first one on the first screen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hanrock_assets.instance import ensure_dagster_home
from hanrock_assets.pages import asset_page, check_page
from hanrock_assets.ui_tour import free_port, webserver
from hanrock_core.checks.browser import find_chromium

from .conftest import REPO, TINY_SCALE, browser_or_skip, playwright_or_skip
from .helpers import run_dagster_job
from .test_search import TINY_PROFILE

SIZES = ((1280, 800), (1600, 1200))
VERDICT_WORDS = ("better", "worse", "equivalent", "undecided")

# what the browser measured: cells beyond the window or cut inside their box, boxes that scroll sideways,
# and where the answer's rows are
MEASURE = """
() => {
  const width = window.innerWidth, found = [];
  const keyCell = [...document.querySelectorAll('td')].find(td => td.innerText.trim() === 'answer');
  if (!keyCell) return {missing: true};
  const metadata = keyCell.closest('table');
  for (const el of metadata.querySelectorAll('td, th, img')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.right > width + 1) found.push(['beyond the window', el.innerText || el.src, Math.round(box.right)]);
    if (el.tagName !== 'IMG' && el.scrollWidth > el.clientWidth + 1)
      found.push(['cut inside its cell', el.innerText.slice(0, 60), el.scrollWidth, el.clientWidth]);
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX === 'visible') continue;
      const clip = up.getBoundingClientRect();  // a box that hides or scrolls what passes its right edge
      if (box.right > clip.right + 1) {
        const what = String(el.innerText || el.src || el.tagName).slice(0, 60);
        found.push(['cut by a box around it', what, Math.round(box.right), Math.round(clip.right)]);
        break;
      }
    }
  }
  for (let el = metadata; el && el !== document.body; el = el.parentElement) {
    if (el.scrollWidth > el.clientWidth + 1)
      found.push(['scrolls sideways', el.tagName, el.scrollWidth, el.clientWidth]);
  }
  const answer = keyCell.parentElement.querySelector('table');
  const rows = [...answer.querySelectorAll('tr')].filter(tr => tr.querySelector('td')).map(tr => {
    const box = tr.getBoundingClientRect();
    return {text: tr.innerText, top: box.top, bottom: box.bottom};
  });
  return {problems: found, rows};
}
"""


@pytest.fixture(scope="module")
def served_study(tmp_path_factory):
    """A finished tiny H1 study of iemocap.emotion on a persistent instance, and the environment to serve it."""
    browser_or_skip()
    playwright_or_skip()
    base = tmp_path_factory.mktemp("ui-layout")
    (base / "profile.yaml").write_text(TINY_PROFILE.format(trials=3))
    (base / "hanrock.yaml").write_text(f"home: {base / 'home'}\nsynthetic: {{scale: {TINY_SCALE}, seed: 5}}\n")
    (base / "run.yaml").write_text(
        "ops:\n  each_dataset: {config: {datasets: [iemocap]}}\n  each_task: {config: {tasks: [iemocap.emotion]}}\n"
        f"resources:\n  study: {{config: {{profile: {base / 'profile.yaml'}}}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HANROCK_HOME"}
    env.update(
        HANROCK_CONFIG=str(base / "hanrock.yaml"),
        DAGSTER_HOME=str(ensure_dagster_home(base / "dagster")),
        PYTHONPATH=str(REPO),
    )
    run_dagster_job("h1_study", base, env, base / "run.yaml")
    return base, env


def _measured(base: str, address: str, width: int, height: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(base + address)
            page.get_by_text("Show schema").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)  # the plot image and the tables settle
            return page.evaluate(MEASURE)
        finally:
            browser.close()


def test_the_answer_fits_a_laptop_screen_and_nothing_is_cut(served_study):
    base_dir, env = served_study
    with webserver(free_port(), base_dir / "dagster-dev.log", env) as base:
        for address in (asset_page("h1_significance"), check_page("h1_significance", "comparisons_decided")):
            for width, height in SIZES:
                measured = _measured(base, address, width, height)
                where = f"{address} at {width}x{height}"
                assert not measured.get("missing"), f"{where}: no `answer` entry"
                assert measured["problems"] == [], f"{where}: {measured['problems'][:5]}"
                rows = measured["rows"]
                assert len(rows) == 5, (where, rows)  # ap and aphf against none, the three against the floor
                for row in rows:  # each verdict whole: its word, difference and interval or seeds, its health
                    assert any(row["text"].split("\t")[1].startswith(w) for w in VERDICT_WORDS), (where, row)
                    assert " slot" in row["text"] or " seed" in row["text"], (where, row)
                assert rows[0]["top"] < height, f"{where}: the first verdict is below the first screen"
                if (width, height) == (1600, 1200) and address == asset_page("h1_significance"):
                    assert rows[-1]["bottom"] < height, f"{where}: the last verdict is below the first screen"


def test_the_dashboard_opens_a_studys_trials(served_study):
    """`hanrock dashboard h1/iemocap.emotion` serves optuna-dashboard on the study's storage: its page lists each
    condition's study, and a study's page names the objective (the dev metric)."""
    from playwright.sync_api import sync_playwright

    base_dir, env = served_study
    port = free_port()
    hanrock = str(Path(sys.executable).parent / "hanrock")
    server = subprocess.Popen(
        [hanrock, "dashboard", "h1/iemocap.emotion", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = "".join(server.stdout.readline() for _ in range(5))
        assert "3 studies" in said and "objective: dev balanced_accuracy" in said, said
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"http://127.0.0.1:{port}/dashboard", timeout=60_000)
                page.get_by_text("h1.iemocap.emotion.none#").first.wait_for(timeout=60_000)
                listed = page.inner_text("body")
                assert all(f"h1.iemocap.emotion.{c}#" in listed for c in ("none", "ap", "aphf")), listed[:500]
                page.get_by_text("h1.iemocap.emotion.none#").first.click()
                page.get_by_text("dev balanced_accuracy").first.wait_for(timeout=60_000)
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
