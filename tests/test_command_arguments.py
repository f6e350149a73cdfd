"""Every command checks its arguments and the environment before it reads data (issue 41, cases 2-11).

One row per bad argument or environment value: the real command line must exit 2 with the option's or the
variable's name and what to do, print no traceback and write nothing.  Rows that need the data read first
(a challenger the corpus has no families for, an effect beyond the metric) say so after reading it, still
before any training.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from .conftest import REPO
from .helpers import run_cli
from .test_bad_inputs import write_byo

TEXT_ONLY_SPEC = """name: textonly
files: {train: train.csv, dev: dev.csv, test: test.csv}
columns: {text: said, speaker: who, dialogue: conv, order: idx, session: sess}
labels:
  emotion: {column: emotion, type: class}
"""


@dataclass(frozen=True)
class Row:
    """One bad argument: the command, the environment it runs in, and what its message must hold."""

    name: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


CALIBRATE = ("calibrate", "iemocap.emotion")
ROWS = [
    Row("calibrate --planted -5", (*CALIBRATE, "--planted", "-5"), ("--planted -5.0 is not an effect",)),
    Row("calibrate --planted nan", (*CALIBRATE, "--planted", "0.01,nan"), ("--planted nan is not an effect",)),
    Row("calibrate --planted words", (*CALIBRATE, "--planted", "big"), ("is not a comma-separated list of numbers",)),
    Row(
        "calibrate --planted 2 on a metric in [0, 1]",
        (*CALIBRATE, "--planted", "2"),
        ("--planted 2.0 is beyond balanced_accuracy, which lies between 0 and 1",),
    ),
    Row(
        "calibrate --studies 1", (*CALIBRATE, "--studies", "1"), ("argument --studies: '1' must be between 2 and 100",)
    ),
    Row(
        "calibrate --challenger nosuch",
        (*CALIBRATE, "--challenger", "nosuch"),
        ("--challenger 'nosuch' is not an H1 condition", "choose one of ['ap', 'aphf', 'hf', 'lex']"),
    ),
    Row(
        "calibrate --challenger ap on a text-only corpus",
        ("calibrate", "textonly.emotion", "--challenger", "ap"),
        (
            "--challenger 'ap' needs auxiliary families textonly.emotion does not have",
            "choose one of ['aphf', 'hf', 'lex']",
        ),
    ),
    Row("ablate --changes ''", ("ablate", "iemocap.emotion", "--changes", ""), ("--changes names no change",)),
    Row(
        "ablate --changes base,,base",
        ("ablate", "iemocap.emotion", "--changes", "base,,base"),
        ("has an empty or repeated name",),
    ),
    Row(
        "HANROCK_OPTUNA_STORAGE malformed",
        ("config",),
        ("HANROCK_OPTUNA_STORAGE is not a database URL", "postgresql://"),
        {"HANROCK_OPTUNA_STORAGE": "postgres//nohost"},
    ),
    Row(
        "HANROCK_OPTUNA_STORAGE of an unknown database",
        ("config",),
        ("HANROCK_OPTUNA_STORAGE is not a database URL", "Can't load plugin"),
        {"HANROCK_OPTUNA_STORAGE": "nosuchdb://host/optuna"},
    ),
    Row(
        "HANROCK_HOST_LOST_AFTER=0",
        ("config",),
        ("HANROCK_HOST_LOST_AFTER must be a whole number of at least 5, not '0'", "HANROCK_HOST_LOST_AFTER=5)"),
        {"HANROCK_HOST_LOST_AFTER": "0"},
    ),
    Row(
        "a dataset name of 300 characters",
        ("config", "--file", "{tmp}/long.yaml"),
        ("is 300 characters long; at most 64",),
    ),
]


@pytest.fixture
def settings(tiny_iemocap_master, tmp_path, monkeypatch):
    """Settings with the tiny IEMOCAP and a text-only bring-your-own corpus made from it."""
    from hanrock_core.reading.corpora import read_iemocap

    data = write_byo(read_iemocap(tiny_iemocap_master), tmp_path / "textonly")
    (data / "spec.yaml").write_text(TEXT_ONLY_SPEC)
    path = tmp_path / "hanrock.yaml"
    path.write_text(
        f"datasets:\n  iemocap: {{root: {tiny_iemocap_master}}}\n"
        f"  textonly: {{spec: {data / 'spec.yaml'}, root: {data}}}\n"
    )
    (tmp_path / "long.yaml").write_text(f"datasets:\n  {'d' * 300}: {{spec: s.yaml}}\n")
    monkeypatch.setenv("HANROCK_CONFIG", str(path))
    return path


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_a_bad_argument_is_refused_before_any_training(row: Row, settings, tmp_path, capsys, monkeypatch):
    for name, value in row.env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    code, out, err = run_cli(capsys, *(a.format(tmp=tmp_path) for a in row.args))
    assert code == 2, out + err
    assert "Traceback" not in err and ("hanrock: error: " in err or "hanrock calibrate: error: argument" in err)
    for text in row.says:
        assert text in err, f"{text!r} not in {err!r}"
    assert "calibration study" not in out and " epoch " not in out  # refused before any study ran
    assert not (home / "calibration").exists() or not list((home / "calibration").rglob("*.parquet"))


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("HANROCK_TRIAL_WORKERS", "abc", "HANROCK_TRIAL_WORKERS must be a whole number of at least 1, not 'abc'"),
        ("HANROCK_HOST_LOST_AFTER", "0", "HANROCK_HOST_LOST_AFTER must be a whole number of at least 5"),
        ("HANROCK_EXECUTOR", "bogus", "HANROCK_EXECUTOR='bogus' is not one of"),
        ("HANROCK_CONFIG", "/nowhere/hanrock.yaml", "/nowhere/hanrock.yaml: cannot read settings file"),
    ],
)
def test_a_bad_environment_value_is_one_line_in_every_dagster_command(name, value, says, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update({name: value, "DAGSTER_HOME": str(tmp_path), "PYTHONPATH": str(REPO)})
    dagster = [sys.executable, "-m", "dagster"]
    for args in (
        ["asset", "list", "-m", "hanrock_assets"],
        ["job", "execute", "-m", "hanrock_assets", "-j", "h1_study"],
    ):
        done = subprocess.run(dagster + args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr[-2000:]
        assert says in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_a_dollar_in_hanrock_home_is_part_of_the_path(tmp_path, monkeypatch, capsys):
    """`.../it's $HOME` is a folder of that name, not the value of $HOME (issue 41, case 10)."""
    from hanrock_core.preparation.settings import load_settings

    folder = tmp_path / "it's $HOME"
    monkeypatch.setenv("HANROCK_HOME", str(folder))
    monkeypatch.delenv("HANROCK_CONFIG", raising=False)
    assert load_settings().home.root == folder.resolve()
