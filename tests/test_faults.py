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

from hanrock_core.io import write_parquet_atomic

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
        "import os, signal\nfrom hanrock_core.io import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n    tmp.write_bytes(b'half a parquet file')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    left = list(target.parent.glob(".iemocap.parquet.*.tmp"))
    assert len(left) == 1 and not target.exists()  # what kill -9 leaves behind
    write_parquet_atomic(pd.DataFrame({"x": [1]}), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["iemocap.parquet"]


def test_a_half_generated_synthetic_corpus_is_removed_when_it_is_generated_again(tmp_path):
    from hanrock_core.synthetic import generate

    target = tmp_path / "synthetic" / "semaine-scale0.02-seed0"
    _killed_in_the_middle(
        "import os, signal\nfrom hanrock_core.io import atomic_directory\n"
        "from hanrock_core.synthetic import semaine_layout\n"
        f"with atomic_directory({str(target)!r}) as tmp:\n    semaine_layout.write(tmp, 0.02, 0)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert len(list(target.parent.glob(".semaine-scale0.02-seed0.*.tmp"))) == 1 and not target.exists()
    generate("semaine", target, 0.02, 0)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from hanrock_core.io import atomic_path, remove_stale_temporaries

    target = tmp_path / "t.parquet"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"being written")
        assert remove_stale_temporaries(target) == [] and tmp.exists()
