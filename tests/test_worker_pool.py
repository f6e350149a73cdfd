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
    thread.join(timeout=120)  # generous: a busy machine only makes it later, never wrong
    assert events and events[0][1] == 2 and events[0][2] >= released
    assert "busy" in said[0] and "took 2 worker slot(s)" in said[1]


def test_steps_started_together_share_the_free_slots(tmp_path):
    env = {"HANROCK_CORES": "4"}
    got, barrier = [], threading.Barrier(2)

    def step():
        with trial_workers(Home(tmp_path), 9, env=env, log=lambda m: None, settle_seconds=0.5) as n:
            got.append(n)
            barrier.wait(timeout=120)  # both hold their slots at the same time (however busy the machine)

    threads = [threading.Thread(target=step) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert got == [2, 2]
    assert not list((tmp_path / ".slots" / "waiting").glob("*.lock"))  # nothing left behind


def test_a_fixed_number_of_workers_skips_the_slots(tmp_path):
    with trial_workers(Home(tmp_path), 8, env={"HANROCK_TRIAL_WORKERS": "3"}) as n:
        assert n == 3
    assert not (tmp_path / ".slots").exists()


def _take_queued_trials(url: str, name: str, count: int, claim: bool, start, out) -> None:
    """A worker process: takes `count` queued trials of the study and finishes each (a spawn target)."""
    from contextlib import nullcontext

    import optuna

    from hanrock_core.study.study_storage import claiming_trials, open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    start.wait()
    for _ in range(count):
        with claiming_trials(url) if claim else nullcontext():
            trial = study.ask()
        out.put(trial.number)
        time.sleep(0.01)
        try:
            study.tell(trial, 0.0)
        except ValueError:  # taken twice: the other process told it first
            out.put(-1)


def _taken_numbers(tmp_path, claim: bool, workers: int = 4, each: int = 6) -> list[int]:
    import multiprocessing

    import optuna

    from hanrock_core.study.study_storage import open_storage

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    for slot in range(workers * each):
        study.enqueue_trial({}, user_attrs={"slot": slot})
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    processes = [
        context.Process(target=_take_queued_trials, args=(url, "s", each, claim, start, out)) for _ in range(workers)
    ]
    for p in processes:
        p.start()
    time.sleep(2.0)  # every process has opened the study
    start.set()
    for p in processes:
        p.join(timeout=120)
    taken = []
    while not out.empty():
        taken.append(out.get())
    return taken


def test_worker_processes_never_take_the_same_queued_trial(tmp_path):
    """SQLite does not lock the queued trial Optuna reads before marking it running; the claim does."""
    taken = _taken_numbers(tmp_path, claim=True)
    assert -1 not in taken
    assert sorted(taken) == list(range(24))  # each queued trial taken once, none created anew
