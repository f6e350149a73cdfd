"""Shared fixtures: tiny synthetic corpora written by the real generator in the real layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hanrock_core.synthetic import generate

TINY_SCALE = 0.02
REPO = Path(__file__).resolve().parents[1]
EMORYNLP = REPO.parent / "shared" / "data" / "emorynlp"


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
    monkeypatch.delenv("HANROCK_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
