"""Worker slots: a training step never adds a process to a machine whose slots are all taken."""

import threading
import time

from hanrock_core.base.home import Home
from hanrock_core.study.worker_pool import trial_workers

ENV = {"HANROCK_CORES": "2"}


def test_a_step_takes_the_free_slots_up_to_what_it_wants(tmp_path):
    with trial_workers(Home(tmp_path), 5, env=ENV, log=lambda m: None, settle_seconds=0) as first:
        assert first == 2
    with (
        trial_workers(Home(tmp_path), 1, env=ENV, log=lambda m: None, settle_seconds=0) as one,
        trial_workers(Home(tmp_path), 3, env=ENV, log=lambda m: None, settle_seconds=0) as rest,
    ):
        assert (one, rest) == (1, 1)


def test_a_step_with_no_free_slot_waits_until_one_is_released(tmp_path):
    said, events = [], []

    def second_step():
        with trial_workers(Home(tmp_path), 2, env=ENV, log=said.append, poll_seconds=0.05, settle_seconds=0) as n:
            events.append(("second started", n, time.monotonic()))

    with trial_workers(Home(tmp_path), 2, env=ENV, log=lambda m: None, settle_seconds=0) as n:
        assert n == 2
        thread = threading.Thread(target=second_step)
        thread.start()
        time.sleep(0.4)
        assert events == []  # still waiting: no third process on two slots
        released = time.monotonic()
    thread.join(timeout=10)
    assert events and events[0][1] == 2 and events[0][2] >= released
    assert "busy" in said[0] and "took 2 worker slot(s)" in said[1]


def test_steps_started_together_share_the_free_slots(tmp_path):
    env = {"HANROCK_CORES": "4"}
    got, barrier = [], threading.Barrier(2)

    def step():
        with trial_workers(Home(tmp_path), 9, env=env, log=lambda m: None, settle_seconds=0.5) as n:
            got.append(n)
            barrier.wait(timeout=10)  # both hold their slots at the same time

    threads = [threading.Thread(target=step) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert got == [2, 2]
    assert not list((tmp_path / ".slots" / "waiting").glob("*.lock"))  # nothing left behind


def test_a_fixed_number_of_workers_skips_the_slots(tmp_path):
    with trial_workers(Home(tmp_path), 8, env={"HANROCK_TRIAL_WORKERS": "3"}) as n:
        assert n == 3
    assert not (tmp_path / ".slots").exists()
