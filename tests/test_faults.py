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

from .conftest import REPO


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_nearly_full_data_directory_stops_the_run_before_reading(small_disk, tmp_path):
    env = {**os.environ, "HANROCK_HOME": str(small_disk / "home")}
    done = subprocess.run([sys.executable, "-m", "dagster", "asset", "materialize", "-m", "hanrock_assets",
                           "--select", "raw_sessions", "--partition", "iemocap"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
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
