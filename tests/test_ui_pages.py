"""The UI's page addresses and the screenshot tour's command line (the pages themselves are rendered in
tests/test_ui_end_to_end.py against a real `dagster dev`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hanrock_assets.pages import partition_links, partition_page, tour
from hanrock_core.base.errors import InputError
from hanrock_core.checks.browser import dump_dom


def test_a_partition_page_names_its_partition_safely():
    assert (
        partition_page("h1_trials", "iemocap.emotion") == "/assets/h1_trials?view=partitions&partition=iemocap.emotion"
    )
    # a dataset a user named with a space or brackets still makes one Markdown link
    assert partition_page("h1_trials", "my data(2).emotion").endswith("partition=my%20data%282%29.emotion")
    links = partition_links("h1_trials", ["a.x", "b.y"])
    assert links.count("](/assets/h1_trials?view=partitions&partition=") == 2
    assert partition_links("h1_trials", []) == ""  # a dataset whose spec is broken has no task partitions


def test_the_tour_opens_the_run_the_answer_and_one_partition():
    pages = dict(tour("h2", "semaine.power"))
    assert pages == {
        "overview": "/overview",
        "h2_study_runs": "/locations/hanrock_assets/jobs/h2_study/runs",
        "h2_significance": "/assets/h2_significance",
        "h2_verdicts": "/assets/h2_significance?view=checks&checkDetail=comparisons_decided",
        "h2_study_health": "/assets/h2_significance?view=checks&checkDetail=study_health",
        "h2_trials_semaine.power": "/assets/h2_trials?view=partitions&partition=semaine.power",
    }


def test_the_browser_opens_only_pages_on_this_machine():
    with pytest.raises(InputError, match="only a page served on this machine"):
        dump_dom("http://example.com/")


def test_the_tour_without_an_instance_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    done = subprocess.run(
        [sys.executable, "-m", "hanrock_assets.ui_tour", "--out", str(tmp_path / "shots")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "DAGSTER_HOME is not set" in done.stderr and "make ui-shots" in done.stderr
    assert not (tmp_path / "shots").exists()  # nothing written
