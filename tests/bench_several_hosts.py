"""Benchmark: the wall time of one Celery study on 1 worker host and on 2 (one core each).

    sudo .venv/bin/python -m tests.bench_several_hosts [--trials 3] [--scale 0.02]

The hosts are tests/several_hosts.py's (network namespaces, services on their own host); each run
starts from fresh services and a fresh data directory, so both train the same study in full.  Prints,
per run: the wall time, the trial time summed over trials (from the Optuna storage: each trial's start
to its end), how busy the worker hosts were (trial time / hosts x wall), and the time after the last
trial ended (seed replicates, gathering the staged rows into DuckDB, the significance step).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from .conftest import TINY_SCALE
from .several_hosts import FINISHED, environment, launch, made_hosts, missing, started_since, study_files


def timed_run(hosts, workers: list[str], root: Path, trials: int, scale: float) -> dict:
    """One study on `workers` (a core each); its figures."""
    settings, _, run_config = study_files(root, seed=3, trials=trials, scale=scale)
    env = environment(hosts, settings)
    hosts.stop_workers()
    for core, host in enumerate(workers):
        hosts.start_worker(host, env, core % (os.cpu_count() or 1))
    hosts.wait_ready(120)
    since = datetime.datetime.now()
    started = time.time()
    rc = launch(hosts, run_config, env, root / "run.log").wait(timeout=3600)
    wall = time.time() - started
    if rc != 0:
        raise SystemExit(f"bench: the run on {workers} failed; see {root / 'run.log'}")
    done = [t for t in started_since(hosts, since) if t["state"] in FINISHED and t["complete"]]
    trial_s = sum((t["complete"] - t["started"]).total_seconds() for t in done)
    last = max(t["complete"] for t in done)
    after = (since + datetime.timedelta(seconds=wall) - last).total_seconds()
    return {"hosts": len(workers), "wall": wall, "trials": len(done), "trial_s": trial_s, "after": after}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="trials per condition (default 3)")
    parser.add_argument("--scale", type=float, default=TINY_SCALE, help="synthetic corpus scale (default: the tests')")
    args = parser.parse_args(argv)
    if lacking := missing():
        print(f"bench: {lacking} is needed (run as root with redis-server and postgresql installed)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="hanrock-hosts-bench-"))
    figures = []
    with made_hosts(base) as hosts:
        for workers in (["w1"], ["w1", "w2"]):
            if figures:  # fresh Optuna and Dagster storage: the same identity trains again in full
                hosts.stop_services()
                hosts.start_services()
            root = hosts.shared / f"hosts-{len(workers)}"
            figures.append(timed_run(hosts, workers, root, args.trials, args.scale))
            print(f"... {len(workers)} worker host(s): {figures[-1]['wall']:.0f} s", flush=True)
    print(f"H1 on the synthetic SEMAINE (scale {args.scale}, {args.trials} trials per condition, 1 replicate):")
    print("| worker hosts (1 core each) | wall | trials | trial time summed | hosts busy | after the last trial |")
    print("|---|---|---|---|---|---|")
    for f in figures:
        busy = f["trial_s"] / (f["hosts"] * f["wall"])
        cells = [f["hosts"], f"{f['wall']:.0f} s", f["trials"], f"{f['trial_s']:.0f} s", f"{busy:.0%}"]
        print("| " + " | ".join(map(str, cells + [f"{f['after']:.0f} s"])) + " |")
    print(f"speed-up with 2 hosts: {figures[0]['wall'] / figures[1]['wall']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
