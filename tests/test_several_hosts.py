"""A study across several hosts (issue 34): Celery workers on separate network hosts made by
deploy/several-hosts.sh (a network namespace, an address, a hostname and a private /tmp each; only
the shared data directory in common), Redis and PostgreSQL on a services host, the run launched from
a host of its own.

1. The H1 study across two worker hosts gives the trials, configurations, values and selected trials
   of the same study run on one machine (multiprocess executor, SQLite, DuckDB written directly).
2. A worker host lost in the middle of a trial (its link cut, every process on it killed): the
   launching side declares it lost within HANROCK_HOST_LOST_AFTER and a few seconds, the run fails
   naming the host and the step, and the same command run again completes with every trial once.

Needs root, iproute2, util-linux, redis-server and postgresql; skipped with the reason otherwise,
unless HANROCK_REQUIRE_HOSTS=1 (.ci/run sets it where it runs as root).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from hanrock_core.base.results import query

from .conftest import REPO, TINY_SCALE

HOSTS_SCRIPT = REPO / "deploy" / "several-hosts.sh"
SERVICES_SCRIPT = REPO / "deploy" / "local-services.sh"
LOST_AFTER = 10  # HANROCK_HOST_LOST_AFTER in this test: seconds
DETECTION_BOUND = LOST_AFTER + 10  # the watch pings every 2 s with a 1 s timeout; the rest is slack
TRIALS = 3
TOLERANCE = 1e-9  # metric values of a trial on another host of the same machine: the same arithmetic
COMPARED = ["condition", "task", "trial", "state", "best_epoch", "learning_rate", "batch_size", "content_size"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "root (network namespaces)"
    for tool in ("ip", "unshare", "nsenter", "taskset", "redis-server"):
        if not shutil.which(tool):
            return tool
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "postgresql"
    return None


def _sh(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["bash", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Hosts:
    """The hosts of one test: a services host, a launching host and worker hosts."""

    def __init__(self, folder: Path, shared: Path) -> None:
        self.folder, self.shared = folder, shared
        self.workers: dict[str, subprocess.Popen] = {}

    def command(self, host: str, *argv: str) -> list[str]:
        return ["bash", str(HOSTS_SCRIPT), "run", str(self.folder), host, "--", *argv]

    def address(self, host: str) -> str:
        return _sh(str(HOSTS_SCRIPT), "address", str(self.folder), host).strip()

    def start_worker(self, host: str, env: dict, core: int) -> None:
        """A Celery worker of one process on `host`, pinned to one core."""
        argv = ["taskset", "-c", str(core), sys.executable, "-m", "celery", "-A", "hanrock_assets.celery_worker"]
        argv += ["worker", "-c", "1", "-n", f"{host}@%h", "-Q", "dagster", "--loglevel", "INFO"]
        log = (self.folder / f"{host}.log").open("w")
        self.workers[host] = subprocess.Popen(self.command(host, *argv), env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, seconds: float) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if all(" ready." in self.log(h) for h in self.workers):
                return
            time.sleep(0.5)
        raise TimeoutError("workers did not start: " + " | ".join(self.log(h)[-1500:] for h in self.workers))

    def log(self, host: str) -> str:
        path = self.folder / f"{host}.log"
        return path.read_text(errors="backslashreplace") if path.exists() else ""

    def stop_workers(self) -> None:
        """Warm shutdown of every worker (SIGTERM), SIGKILL after 60 s."""
        for worker in self.workers.values():
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers.values():
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers.clear()

    def lose(self, host: str) -> None:
        _sh(str(HOSTS_SCRIPT), "lose", str(self.folder), host)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """Hosts svc, launch, w1 and w2 with Redis and PostgreSQL on svc; removed when the module ends."""
    missing = _missing()
    if missing:
        if os.environ.get("HANROCK_REQUIRE_HOSTS") == "1":
            pytest.fail(f"{missing} is needed and HANROCK_REQUIRE_HOSTS=1")
        pytest.skip(f"{missing} is needed for several hosts (.ci/run runs this test as root)")
    base = tmp_path_factory.mktemp("hosts")
    folder, shared = base / "hosts", base / "shared"
    shared.mkdir()
    up = [str(HOSTS_SCRIPT), "up", str(folder), "svc", "launch", "w1", "w2", "--shared", str(shared)]
    if str(REPO).startswith("/tmp/"):
        up += ["--shared", str(REPO)]  # a clone under /tmp would be hidden by each host's private /tmp
    try:
        _sh(*up)
        made = Hosts(folder, shared)
        network = re.search(r"^NETWORK=(\S+)$", (folder / "hosts.env").read_text(), re.M).group(1)
        address = made.address("svc")
        start = [str(SERVICES_SCRIPT), "start", "/tmp/services", "--listen", address, "--allow", network]
        subprocess.run(made.command("svc", "bash", *start), check=True, capture_output=True, timeout=120)
        env_text = subprocess.run(
            made.command("svc", "cat", "/tmp/services/services.env"), check=True, capture_output=True, text=True
        ).stdout
        made.services = dict(
            line[len("export ") :].split("=", 1) for line in env_text.splitlines() if line.startswith("export ")
        )
        assert all("127.0.0.1" not in made.services[k] for k in ("HANROCK_CELERY_BROKER", "HANROCK_OPTUNA_STORAGE"))
        yield made
    finally:
        if (folder / "hosts.env").exists():
            for worker in getattr(locals().get("made"), "workers", {}).values():
                worker.kill()
            subprocess.run(["bash", str(HOSTS_SCRIPT), "down", str(folder)], capture_output=True, timeout=120)


def _study_files(root: Path, seed: int) -> tuple[Path, Path, Path]:
    """Settings, profile and run config of a small H1 study on the synthetic SEMAINE (every condition)."""
    root.mkdir(parents=True, exist_ok=True)
    settings = root / "hanrock.yaml"
    settings.write_text(f"home: {root / 'home'}\nsynthetic: {{scale: {TINY_SCALE}, seed: {seed}}}\n")
    quick = (REPO / "hanrock_core" / "study" / "profiles" / "quick.yaml").read_text()
    profile = root / "profile.yaml"
    profile.write_text(
        quick.replace("name: quick", "name: hosts-test")
        .replace("trials_per_condition: 3", f"trials_per_condition: {TRIALS}")
        .replace("replicates: 4", "replicates: 1")
    )
    run_config = root / "run.yaml"
    run_config.write_text(
        "ops:\n  each_dataset:\n    config:\n      datasets: [semaine]\n"
        f"resources:\n  study:\n    config:\n      profile: {profile}\n"
    )
    return settings, profile, run_config


def _environment(hosts: Hosts, settings: Path) -> dict:
    """What every host's processes get: the services host's URLs, the shared folders, nothing local."""
    dagster_home = hosts.shared / "dagster"
    dagster_home.mkdir(exist_ok=True)
    shutil.copy(REPO / "deploy" / "celery" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANROCK_", "DAGSTER_"))}
    env.update(hosts.services)
    env.update(
        HANROCK_CONFIG=str(settings),
        DAGSTER_HOME=str(dagster_home),
        PYTHONPATH=str(REPO),
        HANROCK_TRIAL_WORKERS="1",
        HANROCK_STAGED_RESULTS="1",
        HANROCK_HOST_LOST_AFTER=str(LOST_AFTER),
        HOME="/tmp",  # each host's own
    )
    return env


def _job(run_config: Path) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    return [dagster, "job", "execute", "-m", "hanrock_assets", "-j", "h1_study", "-c", str(run_config)]


def _trials(home: Path):
    rows = query(home / "results.duckdb", "SELECT * FROM trials WHERE hypothesis = 'h1' AND condition <> 'floor'")
    return rows.sort_values(["task", "condition", "trial"]).reset_index(drop=True)


def _selected(home: Path):
    sql = "SELECT task, condition, trial, test_value FROM selected_trials WHERE hypothesis = 'h1' ORDER BY 1, 2"
    return query(home / "results.duckdb", sql)


def test_study_across_hosts_equals_one_machine(hosts, tmp_path):
    settings, _, run_config = _study_files(hosts.shared / "study", seed=3)
    env = _environment(hosts, settings)
    for core, host in enumerate(("w1", "w2")):
        hosts.start_worker(host, env, core % (os.cpu_count() or 1))
    hosts.wait_ready(120)
    started = time.time()
    run = subprocess.run(
        hosts.command("launch", "env", f"--chdir={hosts.shared}", *_job(run_config)),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    wall = time.time() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "succeeded" in hosts.log("w1") and "succeeded" in hosts.log("w2")  # both hosts took steps

    # the same study on one machine: multiprocess executor, SQLite studies, DuckDB written directly
    one_settings, _, one_run = _study_files(tmp_path / "one", seed=3)
    one_env = {k: v for k, v in os.environ.items() if not k.startswith(("HANROCK_", "DAGSTER_"))}
    one_env.update(HANROCK_CONFIG=str(one_settings), PYTHONPATH=str(REPO), HANROCK_TRIAL_WORKERS="1")
    one = subprocess.run(_job(one_run), cwd=tmp_path, env=one_env, capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]

    many, single = _trials(hosts.shared / "study" / "home"), _trials(tmp_path / "one" / "home")
    assert len(many) == len(single) == 4 * 3 * TRIALS  # SEMAINE's 4 tasks x H1's 3 conditions
    assert many["identity"].tolist() == single["identity"].tolist()
    assert many[COMPARED].equals(single[COMPARED])
    for column in ("dev_value", "test_value"):
        assert (many[column] - single[column]).abs().max() <= TOLERANCE, column
    workers = set(many["worker"].str.split(":").str[0]) if "worker" in many else None
    assert workers in (None, {"w1", "w2"})
    assert _selected(hosts.shared / "study" / "home").equals(_selected(tmp_path / "one" / "home"))
    print(f"several hosts: {wall:.0f} s on 2 worker hosts")


def test_a_lost_host_fails_the_run_which_then_resumes(hosts):
    settings, _, run_config = _study_files(hosts.shared / "lost", seed=5)  # another identity, a fresh home
    env = _environment(hosts, settings)
    hosts.stop_workers()  # workers read the settings named by their environment: start them with this study's
    for core, host in enumerate(("w1", "w2")):
        hosts.start_worker(host, env, core % (os.cpu_count() or 1))
    hosts.wait_ready(120)
    command = hosts.command("launch", "env", f"--chdir={hosts.shared}", *_job(run_config))
    first_log = hosts.folder / "run-lost-1.log"
    first = subprocess.Popen(command, env=env, stdout=first_log.open("w"), stderr=subprocess.STDOUT)
    storage = optuna.storages.RDBStorage(hosts.services["HANROCK_OPTUNA_STORAGE"])
    deadline, running = time.time() + 300, None
    while running is None and first.poll() is None and time.time() < deadline:
        running = _trial_running_on(storage, "w2")
        time.sleep(0.2)
    assert running, "no trial was seen running on host w2"
    hosts.lose("w2")
    lost_at = time.time()
    detected = None
    while detected is None and time.time() < lost_at + DETECTION_BOUND + 30:
        if "host w2 is lost" in first_log.read_text(errors="backslashreplace"):
            detected = time.time() - lost_at
        time.sleep(0.5)
    assert detected is not None and detected <= DETECTION_BOUND, (detected, first_log.read_text()[-3000:])
    assert first.wait(timeout=600) != 0  # the run fails once the steps running on w1 are done
    text = first_log.read_text(errors="backslashreplace")
    assert re.search(r"host w2 is lost: its Celery worker w2@w2 .* while running step train_h1\[semaine_", text)

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]

    trials = _trials(hosts.shared / "lost" / "home")
    assert not trials.duplicated(["task", "condition", "trial"]).any()
    assert len(trials) == 4 * 3 * TRIALS
    finished, interrupted = set(), []
    for summary in optuna.get_all_study_summaries(storage):
        if ".semaine." not in summary.study_name or summary.study_name not in _names(trials, storage):
            continue
        for t in storage.get_all_trials(summary._study_id):
            if t.user_attrs.get("withdrawn"):
                continue
            if t.state == optuna.trial.TrialState.FAIL and "reason" not in t.user_attrs:
                interrupted.append((summary.study_name, t.number))
            elif t.state.is_finished():
                finished.add((summary.study_name, t.number))
    assert running[:2] in interrupted  # the lost trial: marked interrupted, its slot run again
    assert len(finished) == len(trials)
    print(f"lost host detected after {detected:.1f} s")


def _names(trials, storage) -> set[str]:
    """The Optuna study names of this run's identity."""
    identities = set(trials["identity"])
    return {s.study_name for s in optuna.get_all_study_summaries(storage) if any(i in s.study_name for i in identities)}


def _trial_running_on(storage, host: str) -> tuple[str, int] | None:
    """(study, trial number) of a trial running on `host` with at least one trial finished before it."""
    summaries = optuna.get_all_study_summaries(storage)
    trials = [(s.study_name, t) for s in summaries for t in storage.get_all_trials(s._study_id)]
    if sum(t.state.is_finished() for _, t in trials) < 1:
        return None
    for name, t in trials:
        if t.state == optuna.trial.TrialState.RUNNING and t.user_attrs.get("worker", "").startswith(f"{host}:"):
            return name, t.number
    return None
