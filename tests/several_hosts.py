"""Several hosts on one machine for the tests and the benchmark of a Celery study across hosts.

deploy/several-hosts.sh makes the hosts (a network namespace, an address, a hostname and a private /tmp
each; only the shared folders in common); deploy/local-services.sh runs Redis and PostgreSQL on the
services host.  `made_hosts` gives a services host `svc`, a launching host `launch` and worker hosts, and
removes them all when it ends, failure included.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import REPO, TINY_SCALE
from .helpers import quick_profile, services_environment, services_missing

HOSTS_SCRIPT = REPO / "deploy" / "several-hosts.sh"
SERVICES_SCRIPT = REPO / "deploy" / "local-services.sh"
FINISHED = ("COMPLETE", "PRUNED", "FAIL")  # Optuna trial states that end a trial


def missing() -> str | None:
    if os.geteuid() != 0:
        return "root (network namespaces)"
    for tool in ("ip", "unshare", "nsenter", "taskset"):
        if not shutil.which(tool):
            return tool
    return services_missing()


def sh(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["bash", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Hosts:
    """The hosts of one test: a services host, a launching host and worker hosts."""

    def __init__(self, folder: Path, shared: Path) -> None:
        self.folder, self.shared = folder, shared
        self.workers: dict[str, subprocess.Popen] = {}
        self.services: dict[str, str] = {}  # the services host's environment (services.env)

    def command(self, host: str, *argv: str) -> list[str]:
        return ["bash", str(HOSTS_SCRIPT), "run", str(self.folder), host, "--", *argv]

    def address(self, host: str) -> str:
        return sh(str(HOSTS_SCRIPT), "address", str(self.folder), host).strip()

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
        sh(str(HOSTS_SCRIPT), "lose", str(self.folder), host)

    def start_services(self, where: str = "/tmp/services") -> None:
        """Redis and PostgreSQL on svc, listening on its address for the hosts' network only."""
        network = re.search(r"^NETWORK=(\S+)$", (self.folder / "hosts.env").read_text(), re.M).group(1)
        start = [str(SERVICES_SCRIPT), "start", where, "--listen", self.address("svc"), "--allow", network]
        done = subprocess.run(self.command("svc", "bash", *start), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        text = subprocess.run(
            self.command("svc", "cat", f"{where}/services.env"), check=True, capture_output=True, text=True
        ).stdout
        self.services = services_environment(text)
        assert all("127.0.0.1" not in self.services[k] for k in ("HANROCK_CELERY_BROKER", "HANROCK_OPTUNA_STORAGE"))

    def stop_services(self, where: str = "/tmp/services") -> None:
        done = subprocess.run(self.command("svc", "bash", str(SERVICES_SCRIPT), "stop", where), timeout=120)
        assert done.returncode == 0


@contextmanager
def made_hosts(base: Path, workers: tuple[str, ...] = ("w1", "w2")) -> Iterator[Hosts]:
    """Hosts svc, launch and `workers` with Redis and PostgreSQL on svc; all removed when it ends."""
    folder, shared = base / "hosts", base / "shared"
    shared.mkdir(parents=True)
    up = [str(HOSTS_SCRIPT), "up", str(folder), "svc", "launch", *workers, "--shared", str(shared)]
    if str(REPO).startswith("/tmp/"):
        up += ["--shared", str(REPO)]  # a clone under /tmp would be hidden by each host's private /tmp
    made = Hosts(folder, shared)
    try:
        sh(*up)
        made.start_services()
        yield made
    finally:
        for worker in made.workers.values():
            worker.kill()
        if (folder / "hosts.env").exists():
            subprocess.run(["bash", str(HOSTS_SCRIPT), "down", str(folder)], capture_output=True, timeout=120)


def study_files(root: Path, seed: int, trials: int = 3, scale: float = TINY_SCALE) -> tuple[Path, Path, Path]:
    """Settings, profile and run config of a small H1 study on the synthetic SEMAINE (every condition)."""
    root.mkdir(parents=True, exist_ok=True)
    settings = root / "hanrock.yaml"
    settings.write_text(f"home: {root / 'home'}\nsynthetic: {{scale: {scale}, seed: {seed}}}\n")
    profile = quick_profile(root / "profile.yaml", "hosts-test", trials_per_condition=trials, replicates=1)
    run_config = root / "run.yaml"
    run_config.write_text(
        "ops:\n  each_dataset:\n    config:\n      datasets: [semaine]\n"
        f"resources:\n  study:\n    config:\n      profile: {profile}\n"
    )
    return settings, profile, run_config


def environment(hosts: Hosts, settings: Path, lost_after: int = 60) -> dict:
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
        HANROCK_HOST_LOST_AFTER=str(lost_after),
        HOME="/tmp",  # each host's own
    )
    return env


def job(run_config: Path) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    return [dagster, "job", "execute", "-m", "hanrock_assets", "-j", "h1_study", "-c", str(run_config)]


# what the test reads of the Optuna storage, asked from the launching host (the services host's address is
# reachable only inside the hosts' network)
TRIALS_QUERY = """
import json, sys, optuna
storage = optuna.storages.RDBStorage(sys.argv[1])
rows = []
for s in optuna.get_all_study_summaries(storage):
    for t in storage.get_all_trials(s._study_id):
        rows.append({"study": s.study_name, "number": t.number, "state": t.state.name,
                     "started": t.datetime_start.isoformat() if t.datetime_start else None,
                     "complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
                     "worker": t.user_attrs.get("worker", ""), "withdrawn": bool(t.user_attrs.get("withdrawn")),
                     "reason": "reason" in t.user_attrs})
storage.engine.dispose()
print(json.dumps(rows))
"""


def optuna_trials(hosts: Hosts) -> list[dict]:
    """Every trial of every study in the services host's Optuna storage."""
    argv = hosts.command("launch", sys.executable, "-c", TRIALS_QUERY, hosts.services["HANROCK_OPTUNA_STORAGE"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    for row in rows:
        for key in ("started", "complete"):
            row[key] = datetime.datetime.fromisoformat(row[key]) if row[key] else None
    return rows


def launch(hosts: Hosts, run_config: Path, env: dict, log: Path) -> subprocess.Popen:
    """`dagster job execute` of the run config on the launching host, its output to `log`."""
    argv = hosts.command("launch", "env", f"--chdir={hosts.shared}", *job(run_config))
    return subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def started_since(hosts: Hosts, since: datetime.datetime) -> list[dict]:
    """The trials that started after `since` (a run's, when runs do not overlap)."""
    return [t for t in optuna_trials(hosts) if t["started"] and t["started"] >= since]
