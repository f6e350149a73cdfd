"""Shared fixtures: tiny synthetic corpora written by the real generator in the real layouts."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from hanrock_core.checks.browser import find_chromium
from hanrock_core.reading.synthetic import generate

TINY_SCALE = 0.02

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # several workers share the cores: more torch threads than cores make every small op spin-wait
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
REPO = Path(__file__).resolve().parents[1]
EMORYNLP = REPO.parent / "shared" / "data" / "emorynlp"


def browser_or_skip() -> None:
    """Skip a headless-Chromium test where no Chromium is installed, unless CI requires one."""
    if find_chromium() is None:
        if os.environ.get("HANROCK_REQUIRE_BROWSER") == "1":
            pytest.fail("HANROCK_REQUIRE_BROWSER=1 but no Chromium is installed (apt-get install chromium)")
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")


def playwright_or_skip() -> None:
    """Skip a test that drives the browser where Playwright is not installed (`.[dev]` has it), unless CI
    requires the browser tests."""
    if importlib.util.find_spec("playwright") is None:
        if os.environ.get("HANROCK_REQUIRE_BROWSER") == "1":
            pytest.fail("HANROCK_REQUIRE_BROWSER=1 but Playwright is not installed (pip install -e '.[dev]')")
        pytest.skip("Playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def tiny_iemocap_master(tmp_path_factory) -> Path:
    return generate("iemocap", tmp_path_factory.mktemp("corpora") / "iemocap", scale=TINY_SCALE, seed=7)


@pytest.fixture(scope="session")
def tiny_semaine_master(tmp_path_factory) -> Path:
    return generate("semaine", tmp_path_factory.mktemp("corpora") / "semaine", scale=TINY_SCALE, seed=7)


@pytest.fixture
def tiny_iemocap(tiny_iemocap_master, tmp_path) -> Path:
    """A private copy that a test may corrupt."""
    return Path(shutil.copytree(tiny_iemocap_master, tmp_path / "iemocap"))


@pytest.fixture
def tiny_semaine(tiny_semaine_master, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_semaine_master, tmp_path / "semaine"))


@pytest.fixture(autouse=True)
def _isolated_platform(monkeypatch, tmp_path):
    """No test reads the developer's settings or writes into the repository's data directory."""
    monkeypatch.setenv("HANROCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HANROCK_COMPILE", "0")  # eager kernels: no compile time in small tests
    monkeypatch.setenv("HANROCK_TRIAL_WORKERS", "1")  # tests run side by side already (one names its own)
    monkeypatch.delenv("HANROCK_CONFIG", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # a test that runs `dagster` names its own instance
    monkeypatch.chdir(tmp_path)


@contextmanager
def tmpfs(mount_point: Path, options: str):
    """A real tmpfs mounted at `mount_point` (root only); the test is skipped where mounting is not allowed."""
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
