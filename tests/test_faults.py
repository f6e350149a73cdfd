"""A real small disk: the free-space check stops a run before any work, and a write that fills
the disk leaves the previous file intact and nothing half-written.

A 2 MiB tmpfs is mounted for each test (root only; skipped where mounting is not allowed --
the same checks run with a patched disk size in test_talkturn_table.py).  docs/faults.md lists
every fault the platform handles and the test that tries it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.io import write_parquet_atomic

from .conftest import REPO, tmpfs


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk", "size=2m") as mount_point:
        yield mount_point


def test_a_nearly_full_data_directory_stops_the_run_before_reading(small_disk, tmp_path):
    env = {**os.environ, "HANROCK_HOME": str(small_disk / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "hanrock_assets",
            "--select",
            "raw_sessions",
            "--partition",
            "iemocap",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "MiB free in the data directory (need 200 MiB)" in done.stdout + done.stderr
    assert "point HANROCK_HOME at a larger disk" in done.stdout + done.stderr
    assert not (small_disk / "home" / "synthetic").exists() and not (small_disk / "home" / "assets").exists()


def test_a_write_that_fills_the_disk_keeps_the_old_file_and_leaves_no_partial_one(small_disk):
    target = small_disk / "assets" / "table.parquet"
    old = pd.DataFrame({"x": [1, 2, 3]})
    write_parquet_atomic(old, target)
    noise = pd.DataFrame({"x": np.random.default_rng(0).random(1_000_000)})  # ~8 MB: more than the disk holds
    with pytest.raises(OSError) as info:
        write_parquet_atomic(noise, target)
    assert info.value.errno == errno.ENOSPC or "No space left" in str(info.value)
    pd.testing.assert_frame_equal(pd.read_parquet(target), old)  # the previous version, intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.parquet"]  # no temporary file left


def test_the_fault_list_names_tests_that_exist():
    """docs/faults.md points at real tests: a renamed test must update the list."""
    text = (REPO / "docs" / "faults.md").read_text()
    names = set(__import__("re").findall(r"`(tests/test_\w+\.py)::(test_\w+)`", text))
    assert len(names) >= 8
    for file, test in names:
        assert f"def {test}(" in (REPO / file).read_text(), f"{file}::{test} named in docs/faults.md does not exist"


def _killed_in_the_middle(code: str) -> None:
    """Run `code` in a child that kills itself with SIGKILL inside an atomic write."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "assets" / "raw_sessions" / "iemocap.parquet"
    _killed_in_the_middle(
        "import os, signal\nfrom hanrock_core.base.io import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n    tmp.write_bytes(b'half a parquet file')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    left = list(target.parent.glob(".iemocap.parquet.*.tmp"))
    assert len(left) == 1 and not target.exists()  # what kill -9 leaves behind
    write_parquet_atomic(pd.DataFrame({"x": [1]}), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["iemocap.parquet"]


def test_a_half_generated_synthetic_corpus_is_removed_when_it_is_generated_again(tmp_path):
    from hanrock_core.reading.synthetic import generate

    target = tmp_path / "synthetic" / "semaine-scale0.02-seed0"
    _killed_in_the_middle(
        "import os, signal\nfrom hanrock_core.base.io import atomic_directory\n"
        "from hanrock_core.reading.synthetic import semaine_layout\n"
        f"with atomic_directory({str(target)!r}) as tmp:\n    semaine_layout.write(tmp, 0.02, 0)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert len(list(target.parent.glob(".semaine-scale0.02-seed0.*.tmp"))) == 1 and not target.exists()
    generate("semaine", target, 0.02, 0)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from hanrock_core.base.io import atomic_path, remove_stale_temporaries

    target = tmp_path / "t.parquet"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"being written")
        assert remove_stale_temporaries(target) == [] and tmp.exists()


def _valence_partition(root):
    from .test_search import _partition

    return _partition(root, "valence")


def test_a_disk_that_fills_mid_search_is_said_plainly_and_a_rerun_completes(tiny_iemocap, tmp_path):
    """The studies' folder on a 400 KiB disk: the search stops with 'the disk is full at ...' (not Optuna's
    or SQLite's own words); on a bigger disk the same call completes with every trial exactly once."""
    from hanrock_core.base.errors import InputError
    from hanrock_core.base.home import Home
    from hanrock_core.study.profiles import load_profile
    from hanrock_core.study.search import run_hypothesis

    from .test_search import tiny_profile

    home = tmp_path / "home"
    part = _valence_partition(tiny_iemocap)
    profile = load_profile(tiny_profile(tmp_path, trials=4))
    with tmpfs(home / "studies", "size=400k"):
        with pytest.raises(InputError, match=r"the disk is full at .*studies") as info:
            run_hypothesis(part, profile, "h1", Home(home), log=lambda m: None)
        assert "run the same command again" in str(info.value)
        kept = sorted(p.name for p in (home / "studies").rglob("*") if p.name.endswith(".tmp"))
        assert kept == [], "a half-written file was left behind"
    rows = run_hypothesis(part, profile, "h1", Home(home), log=lambda m: None)  # the disk is big again
    searched = rows[rows["condition"] != "floor"]
    assert searched.groupby("condition")["trial"].apply(sorted).to_dict() == {
        c: [0, 1, 2, 3] for c in searched["condition"].unique()
    }


def test_a_second_run_on_a_partition_in_training_is_told_which_run_holds_it(tiny_iemocap, tmp_path):
    """Another process holds the partition's studies (as a running `h1_study` does): refused at once with
    its name, no trial touched; once it ends, the same call runs."""
    from hanrock_core.base.errors import InputError
    from hanrock_core.base.home import Home
    from hanrock_core.study.profiles import load_profile
    from hanrock_core.study.search import run_hypothesis

    from .test_search import tiny_profile

    home = tmp_path / "home"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from hanrock_core.base.home import Home; from hanrock_core.study.study_storage import "
            "partition_held\nwith partition_held(Home(sys.argv[1]), 'h1', 'iemocap.valence', 'Dagster run 1234abcd'):"
            "\n    print('held', flush=True); time.sleep(120)",
            str(home),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        part = _valence_partition(tiny_iemocap)
        profile = load_profile(tiny_profile(tmp_path))
        with pytest.raises(
            InputError, match=r"another run is training the h1 studies of iemocap.valence: Dagster run 1234abcd \(host"
        ):
            run_hypothesis(part, profile, "h1", Home(home), log=lambda m: None)
    finally:
        holder.kill()
        holder.wait()
    rows = run_hypothesis(part, profile, "h1", Home(home), log=lambda m: None)
    assert (rows["state"] != "failed").all()


def test_ctrl_c_of_a_command_says_so_and_leaves_nothing_partial(tmp_path):
    """SIGINT while `hanrock synth` writes the full-scale corpus: exit 130, one line, no traceback, no folder."""
    import signal
    import time

    target = tmp_path / "corpus"
    child = subprocess.Popen(
        [sys.executable, "-m", "hanrock_core.cli", "synth", "iemocap", str(target), "--scale", "1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".corpus.*")) and time.monotonic() < deadline:  # writing has begun
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "interrupted; nothing partial was written" in err and "Traceback" not in err
    assert not target.exists() and not list(tmp_path.glob(".corpus.*"))


@pytest.mark.parametrize(
    "args, says",
    [
        (["synth", "iemocap", "{tmp}/c", "--seed", "-1"], "between 0 and"),
        (["synth", "iemocap", "{tmp}/c", "--seed", "99999999999999999999"], "between 0 and"),
        (["bench", "--steps", "0"], "between 1 and"),
        (["bench", "--epoch-talkturns", "0"], "between 1 and"),
        (["load", "iemocap", "{tmp}", "--openface-fps", "1e9"], "at most 10,000"),
    ],
)
def test_command_line_numbers_out_of_range_are_refused(tmp_path, capsys, args, says):
    from .helpers import run_cli

    code, _, err = run_cli(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert code == 2 and says in err and "Traceback" not in err
