"""A study across several hosts (issue 34): Celery workers on separate network hosts made by
deploy/several-hosts.sh (a network namespace, an address, a hostname and a private /tmp each; only
the shared data directory in common), Redis and PostgreSQL on a services host, the run launched from
a host of its own (tests/several_hosts.py makes them; README "Several hosts" is the same recipe).

1. The H1 study across two worker hosts gives the trials, configurations, values and selected trials
   of the same study run on one machine (multiprocess executor, SQLite, DuckDB written directly).
2. Redis, then PostgreSQL, restarted while trials train: the run rides through both and completes.
   PostgreSQL down for longer than every retry: the run stops with the database's error, and the same
   command run again once it is back completes with every trial once.
3. A worker host lost in the middle of a trial (its link cut, every process on it killed): the
   launching side declares it lost within HANROCK_HOST_LOST_AFTER and a few seconds, sends its step to
   the queue again, the surviving host runs it, and the run completes with every trial once: no
   second command.

Needs root, iproute2, util-linux, redis-server and postgresql; skipped with the reason otherwise,
unless HANROCK_REQUIRE_HOSTS=1 (.ci/run sets it where it runs as root).
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from hanrock_core.base.results import query

from .conftest import REPO
from .several_hosts import (
    FINISHED,
    SERVICES_SCRIPT,
    Hosts,
    environment,
    job,
    launch,
    made_hosts,
    missing,
    optuna_trials,
    started_since,
    study_files,
)

LOST_AFTER = 10  # HANROCK_HOST_LOST_AFTER in this test: seconds
LONG_OUTAGE_S = 75  # longer than the trial writes' 60 s of retries
DETECTION_BOUND = LOST_AFTER + 10  # the watch pings every 2 s with a 1 s timeout; the rest is slack
TRIALS = 3
TOLERANCE = 1e-9  # metric values of a trial on another host of the same machine: the same arithmetic
COMPARED = ["condition", "task", "trial", "state", "best_epoch", "learning_rate", "batch_size", "content_size"]
ALL_TRIALS = 4 * 3 * TRIALS  # SEMAINE's 4 tasks x H1's 3 conditions


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Hosts svc, launch, w1 and w2 with Redis and PostgreSQL on svc; removed when the module ends."""
    lacking = missing()
    if lacking:
        if os.environ.get("HANROCK_REQUIRE_HOSTS") == "1":
            pytest.fail(f"{lacking} is needed and HANROCK_REQUIRE_HOSTS=1")
        pytest.skip(f"{lacking} is needed for several hosts (.ci/run runs this test as root)")
    with made_hosts(tmp_path_factory.mktemp("hosts")) as made:
        yield made


def _workers_for(hosts: Hosts, settings: Path) -> dict:
    """Workers w1 and w2 (a core each) started with this study's environment, which they return."""
    env = environment(hosts, settings, lost_after=LOST_AFTER)
    hosts.stop_workers()  # workers read the settings named by their environment
    for core, host in enumerate(("w1", "w2")):
        hosts.start_worker(host, env, core % (os.cpu_count() or 1))
    hosts.wait_ready(120)
    return env


def _trials(home: Path):
    rows = query(home / "results.duckdb", "SELECT * FROM trials WHERE hypothesis = 'h1' AND condition <> 'floor'")
    return rows.sort_values(["task", "condition", "trial"]).reset_index(drop=True)


def _selected(home: Path):
    sql = "SELECT task, condition, trial, test_value FROM selected_trials WHERE hypothesis = 'h1' ORDER BY 1, 2"
    return query(home / "results.duckdb", sql)


def _read(log: Path) -> str:
    return log.read_text(errors="backslashreplace")


def test_study_across_hosts_equals_one_machine(hosts, tmp_path):
    settings, _, run_config = study_files(hosts.shared / "study", seed=3, trials=TRIALS)
    env = _workers_for(hosts, settings)
    started = time.time()
    run = subprocess.run(
        hosts.command("launch", "env", f"--chdir={hosts.shared}", *job(run_config)),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.time() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "succeeded" in hosts.log("w1") and "succeeded" in hosts.log("w2")  # both hosts took steps

    # the same study on one machine: multiprocess executor, SQLite studies, DuckDB written directly
    one_settings, _, one_run = study_files(tmp_path / "one", seed=3, trials=TRIALS)
    one_env = {k: v for k, v in os.environ.items() if not k.startswith(("HANROCK_", "DAGSTER_"))}
    one_env.update(HANROCK_CONFIG=str(one_settings), PYTHONPATH=str(REPO), HANROCK_TRIAL_WORKERS="1")
    one = subprocess.run(job(one_run), cwd=tmp_path, env=one_env, capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]

    many, single = _trials(hosts.shared / "study" / "home"), _trials(tmp_path / "one" / "home")
    assert len(many) == len(single) == ALL_TRIALS
    assert many["identity"].tolist() == single["identity"].tolist()
    assert many[COMPARED].equals(single[COMPARED])
    for column in ("dev_value", "test_value"):
        assert (many[column] - single[column]).abs().max() <= TOLERANCE, column
    assert _selected(hosts.shared / "study" / "home").equals(_selected(tmp_path / "one" / "home"))
    print(f"several hosts: {wall:.0f} s on 2 worker hosts")


def test_services_restarted_during_a_study(hosts):
    """Redis, then PostgreSQL, restarted (3 s down each) while trials train: the run goes on and completes."""
    settings, _, run_config = study_files(hosts.shared / "restarts", seed=7, trials=TRIALS)
    env = _workers_for(hosts, settings)
    log = hosts.folder / "run-restarts.log"
    launched = datetime.datetime.now()  # Optuna records naive local times
    run = launch(hosts, run_config, env, log)
    for service, finished in (("redis", 1), ("postgres", 3)):
        _wait_for_training(hosts, run, launched, finished)
        restart = [str(SERVICES_SCRIPT), f"restart-{service}", "/tmp/services", "--down", "3"]
        done = subprocess.run(hosts.command("svc", "bash", *restart), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    assert run.wait(timeout=900) == 0, _read(log)[-4000:]
    trials = _trials(hosts.shared / "restarts" / "home")
    assert len(trials) == ALL_TRIALS and not trials.duplicated(["task", "condition", "trial"]).any()
    workers = _read(hosts.folder / "w1.log") + _read(hosts.folder / "w2.log")
    assert "the study storage does not answer" in workers  # PostgreSQL's restart was met, and retried


def test_a_postgresql_outage_longer_than_the_retries_stops_the_run_and_the_same_command_resumes(hosts):
    """PostgreSQL down for 75 s (the trial writes retry for 60 s): what happens is said, not hidden. The
    training steps stop with "the study storage did not answer for 60 s", the run fails; once PostgreSQL is
    back the same command completes, every trial once (README "Faults")."""
    settings, _, run_config = study_files(hosts.shared / "outage", seed=11, trials=TRIALS)
    env = _workers_for(hosts, settings)
    log = hosts.folder / "run-outage-1.log"
    launched = datetime.datetime.now()
    run = launch(hosts, run_config, env, log)
    _wait_for_training(hosts, run, launched, 1)
    restart = [str(SERVICES_SCRIPT), "restart-postgres", "/tmp/services", "--down", str(LONG_OUTAGE_S)]
    done = subprocess.run(hosts.command("svc", "bash", *restart), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    code = run.wait(timeout=900)
    said = _read(log) + _read(hosts.folder / "w1.log") + _read(hosts.folder / "w2.log")
    assert code != 0, said[-4000:]
    assert "the study storage did not answer for 60 s" in said and "run the same command" in said, said[-4000:]
    again = hosts.folder / "run-outage-2.log"
    assert launch(hosts, run_config, env, again).wait(timeout=900) == 0, _read(again)[-4000:]
    trials = _trials(hosts.shared / "outage" / "home")
    assert len(trials) == ALL_TRIALS and not trials.duplicated(["task", "condition", "trial"]).any()


def test_a_lost_host_s_step_goes_to_a_surviving_host_and_the_run_completes(hosts):
    """No second command: the step the lost host held is sent to the queue again and w1 runs it."""
    settings, _, run_config = study_files(hosts.shared / "lost", seed=5, trials=TRIALS)  # a fresh identity
    env = _workers_for(hosts, settings)
    log = hosts.folder / "run-lost.log"
    launched = datetime.datetime.now()
    run = launch(hosts, run_config, env, log)
    deadline, running = time.time() + 300, None
    while running is None and run.poll() is None and time.time() < deadline:
        running = _trial_running_on(hosts, "w2", launched)
    assert running, "no trial was seen running on host w2"
    hosts.lose("w2")  # the cable first: what w2 was training stays RUNNING in the storage
    lost_at = time.time()
    # the trials cut off (the one seen may have finished in the second before the cut; its successor is then)
    cut = {(t["study"], t["number"]) for t in started_since(hosts, launched) if _running_on(t, "w2")}
    assert cut, "host w2 was lost between two trials: no trial was cut off"
    detected = None
    while detected is None and time.time() < lost_at + DETECTION_BOUND + 30:
        if "host w2 is lost" in _read(log):
            detected = time.time() - lost_at
        time.sleep(0.5)
    assert detected is not None and detected <= DETECTION_BOUND, (detected, _read(log)[-3000:])
    assert run.wait(timeout=900) == 0, _read(log)[-4000:]  # one command: the run completes by itself
    assert re.search(
        r"host w2 is lost: its Celery worker w2@w2 .* while running step train_h1\[semaine_.*; the step is sent to "
        r"the queue again \(time 2\), where a surviving worker \(w1@w1\) takes it",
        _read(log),
    ), _read(log)[-4000:]

    trials = _trials(hosts.shared / "lost" / "home")
    assert not trials.duplicated(["task", "condition", "trial"]).any()
    assert len(trials) == ALL_TRIALS
    finished, interrupted = set(), []
    identities = set(trials["identity"])
    for t in optuna_trials(hosts):
        if ".semaine." not in t["study"] or not any(i in t["study"] for i in identities) or t["withdrawn"]:
            continue
        if t["state"] == "FAIL" and not t["reason"]:
            interrupted.append((t["study"], t["number"]))
        elif t["state"] in FINISHED:
            finished.add((t["study"], t["number"]))
    assert cut <= set(interrupted)  # the lost trial: marked interrupted, its slot run again on w1
    assert len(finished) == len(trials)
    print(f"lost host detected after {detected:.1f} s; the run completed on w1")


def _wait_for_training(hosts: Hosts, run: subprocess.Popen, since: datetime.datetime, finished_at_least: int) -> None:
    """Until a trial of this run (started after `since`) is running and `finished_at_least` have finished
    (bounded: 300 s)."""
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        trials = started_since(hosts, since)
        finished = sum(t["state"] in FINISHED for t in trials)
        if finished >= finished_at_least and any(t["state"] == "RUNNING" for t in trials):
            return
    raise AssertionError(f"no trial running with {finished_at_least} finished (run ended: {run.poll()})")


def _trial_running_on(hosts: Hosts, host: str, since: datetime.datetime) -> tuple[str, int] | None:
    """(study, trial number) of a trial running on `host` once a trial of this run (started after `since`)
    has finished."""
    trials = started_since(hosts, since)
    if not any(t["state"] in FINISHED for t in trials):
        return None
    for t in trials:
        if _running_on(t, host) and t["number"] < TRIALS - 1:  # a later trial of its study follows it
            return t["study"], t["number"]
    return None


def _running_on(trial: dict, host: str) -> bool:
    return trial["state"] == "RUNNING" and trial["worker"].startswith(f"{host}:")
