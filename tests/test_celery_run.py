"""A real distributed study: `h1_study` through dagster-celery with two Celery worker processes,
Redis as the broker, the Optuna studies and the Dagster instance in PostgreSQL, results gathered
into DuckDB.  One worker's process is killed with SIGKILL in the middle of a trial; the run fails,
a second run completes, and every trial is in the results exactly once.

The services are Debian's redis-server and postgresql, started by deploy/local-services.sh on free
ports.  Without them the test is skipped with the reason, unless HANROCK_REQUIRE_SERVICES=1 (CI
installs them and sets it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from hanrock_core.base.results import query

from .conftest import REPO, TINY_SCALE
from .helpers import quick_profile, services_environment, services_missing

TRIALS = 3
SCRIPT = REPO / "deploy" / "local-services.sh"


@pytest.fixture
def services(tmp_path):
    """Redis and PostgreSQL on free ports; the environment a run and its workers need."""
    missing = services_missing()
    if missing:
        if os.environ.get("HANROCK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{missing} is not installed and HANROCK_REQUIRE_SERVICES=1")
        pytest.skip(f"{missing} is not installed (apt-get install redis-server postgresql) -- the Celery test needs it")
    folder = tmp_path / "services"
    started = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield services_environment((folder / "services.env").read_text())
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=120)


def _start_worker(name: str, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hanrock_assets.celery_worker",
            "worker",
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "-Q",
            "dagster",
            "--loglevel",
            "INFO",
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(logs: list[Path], deadline: float) -> None:
    while time.time() < deadline:
        if all(log.exists() and " ready." in log.read_text() for log in logs):
            return
        time.sleep(0.5)
    raise TimeoutError("the Celery workers did not start: " + " | ".join(log.read_text()[-1500:] for log in logs))


def _running_trial(
    storage: optuna.storages.RDBStorage, workers: list[subprocess.Popen], seen: list
) -> tuple[str, int, int] | None:
    """(study, trial number, process id) of a trial now running in a worker's pool process, once one has finished."""
    trials = [
        (s.study_name, t) for s in optuna.get_all_study_summaries(storage) for t in storage.get_all_trials(s._study_id)
    ]
    if sum(t.state.is_finished() for _, t in trials) < 2:
        return None
    parents = {w.pid for w in workers}
    for name, trial in trials:
        if trial.state == optuna.trial.TrialState.RUNNING:
            worker = trial.user_attrs.get("worker", "")
            pid = int(worker.rsplit(":", 1)[1]) if ":" in worker else None
            seen.append((name, trial.number, worker, pid and _parent(pid), parents))
            if pid and _parent(pid) in parents:
                return name, trial.number, pid
    return None


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_h1_study_on_celery_survives_a_killed_worker(tmp_path, services):
    home = tmp_path / "home"
    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"home: {home}\nsynthetic: {{scale: {TINY_SCALE}, seed: 3}}\n")
    profile = quick_profile(tmp_path / "profile.yaml", "celery-test", trials_per_condition=TRIALS)
    run_config = tmp_path / "run.yaml"
    run_config.write_text(
        f"ops:\n  each_dataset:\n    config:\n      datasets: [semaine]\n"
        f"resources:\n  study:\n    config:\n      profile: {profile}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HANROCK_HOME", "HANROCK_TRIAL_WORKERS")}
    env.update(services, HANROCK_CONFIG=str(settings), PYTHONPATH=str(REPO), HANROCK_TRIAL_WORKERS="1")
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "job", "execute", "-m", "hanrock_assets", "-j", "h1_study", "-c", str(run_config)]
    logs = [tmp_path / "worker1.log", tmp_path / "worker2.log"]
    workers = [_start_worker(f"w{i + 1}", env, log) for i, log in enumerate(logs)]
    try:
        _wait_ready(logs, time.time() + 120)
        first = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=(tmp_path / "run1.log").open("w"), stderr=subprocess.STDOUT
        )
        killed, seen = None, []
        studies = optuna.storages.RDBStorage(services["HANROCK_OPTUNA_STORAGE"])  # one connection pool for the polling
        deadline = time.time() + 300
        while killed is None and first.poll() is None and time.time() < deadline:
            killed = _running_trial(studies, workers, seen)
            if killed is None:
                time.sleep(0.2)
        assert killed, f"no trial was seen running in a worker (running trials seen: {seen[-5:]})"
        os.kill(killed[2], signal.SIGKILL)  # the worker's pool process, in the middle of the trial
        assert first.wait(timeout=300) != 0  # the step is lost, so the run fails (and says so)
        assert all(w.poll() is None for w in workers)  # the killed process's worker starts a new one

        second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)

    worker_logs = " ".join(log.read_text() for log in logs)
    assert "WorkerLostError" in worker_logs or "signal 9" in worker_logs
    assert "succeeded" in logs[0].read_text() and "succeeded" in logs[1].read_text()  # both workers took steps

    # every trial once: the results hold exactly the finished trials of the Optuna studies in PostgreSQL
    db = home / "results.duckdb"
    trials = query(db, "SELECT dataset, task, condition, trial, state FROM trials WHERE hypothesis = 'h1'")
    assert not trials.duplicated(["dataset", "task", "condition", "trial"]).any()
    neural = trials[trials["condition"] != "floor"]
    per_condition = neural.groupby(["dataset", "task", "condition"]).size()
    assert len(per_condition) == 4 * 3 and (per_condition == TRIALS).all(), per_condition
    storage = optuna.storages.RDBStorage(services["HANROCK_OPTUNA_STORAGE"])
    finished, interrupted = set(), []
    for summary in optuna.get_all_study_summaries(storage):
        for t in storage.get_all_trials(summary._study_id):
            if t.user_attrs.get("withdrawn"):  # queued by the killed run, never started, queued again in slot order
                continue
            if t.state == optuna.trial.TrialState.FAIL and "reason" not in t.user_attrs:
                interrupted.append((summary.study_name, t.number))
            elif t.state.is_finished():
                finished.add((summary.study_name, t.number))
    assert interrupted == [killed[:2]]  # the killed trial, marked interrupted and run again as a new trial
    assert len(finished) == len(neural)
    significance = query(db, "SELECT * FROM significance WHERE hypothesis = 'h1'")
    assert len(significance) > 0
    staged = home / "staged_results" / "all_trials"
    assert sorted(p.name.rsplit(".", 2)[0] for p in staged.glob("*.parquet")) == sorted(
        f"h1.semaine.{task}" for task in neural["task"].unique()
    )  # one file per partition and identity
