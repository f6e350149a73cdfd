"""The search: every condition's trials, resumable after kill -9, rows replaced never duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from hanrock_assets.instance import ensure_dagster_home
from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
from hanrock_core.preparation.mi_loss_weights import mutual_information
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis

from .conftest import REPO

TINY_PROFILE = """name: tiny
trials_per_condition: {trials}
epochs: 2
capacity_total: 5
h2_primary_units: [4, 2, 1]
default_primary_units: 4
embedding_dim: 8
optimizer: adam
median_pruning: {{first_epoch: 5, every: 2}}
space: {{content_size: [1, 2], batch_size: [16, 32], l2: [0.0, 0.0]}}
"""


def tiny_profile(tmp_path: Path, trials: int = 2) -> Path:
    path = tmp_path / f"tiny{trials}.yaml"
    path.write_text(TINY_PROFILE.format(trials=trials))
    return path


def condition_study(storage: str, base: str) -> optuna.Study:
    """The one study of a condition (its name is `base#<identity>`)."""
    names = [n for n in optuna.get_all_study_names(storage) if n.split("#")[0] == base]
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


def _partition(root: Path, task: str = "valence") -> PartitionData:
    table = read_iemocap(root)
    targets = build_auxiliary_targets(table, task)
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    return PartitionData.build("iemocap", task, table, inputs, targets, mutual_information(targets))


def test_every_condition_runs_and_a_rerun_changes_nothing(tiny_iemocap, tmp_path):
    part = _partition(tiny_iemocap)
    profile = load_profile(tiny_profile(tmp_path))
    db = tmp_path / "results.duckdb"
    rows = run_hypothesis(part, profile, "h1", Home(tmp_path), log=lambda m: None)
    assert rows.groupby("condition").size().to_dict() == {"aphf": 2, "ap": 2, "none": 2, "floor": 1}
    assert set(rows["state"]) <= {"complete", "pruned"} and rows["dev_value"].notna().all()
    first = query(db, "SELECT * FROM trials ORDER BY condition, trial")
    baseline = first.loc[first["condition"] == "none"]
    assert all(set(json.loads(w).values()) == {0.0} for w in baseline["loss_weights"])  # all auxiliary weights 0
    assert (baseline["primary_weight"] == 1.0).all()
    searched = first[first["condition"] != "floor"]
    assert all(
        sum(json.loads(w).values()) + p == pytest.approx(1.0)
        for w, p in zip(searched["loss_weights"], searched["primary_weight"])
    )
    floor = first[first["condition"] == "floor"].iloc[0]  # the bag-of-words floor: one fit, C chosen on dev
    assert floor["state"] == "complete" and floor["metric"] == "mae" and "TF-IDF" in floor["reason"]
    epochs = query(db, "SELECT count(*) AS n FROM epochs")["n"].item()
    messages = []
    run_hypothesis(part, profile, "h1", Home(tmp_path), log=messages.append)
    assert sum("already finished" in m for m in messages) == 3
    again = query(db, "SELECT * FROM trials ORDER BY condition, trial")
    pd.testing.assert_frame_equal(first, again)
    assert query(db, "SELECT count(*) AS n FROM epochs")["n"].item() == epochs
    assert query(db, "SELECT count(DISTINCT condition) AS n FROM predictions")["n"].item() == 4  # the floor's too


KILL_SCRIPT = """
import sys
from pathlib import Path
from tests.test_search import _partition
from hanrock_core.base.home import Home
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.profiles import load_profile
part = _partition(Path(sys.argv[1]))
run_hypothesis(part, load_profile(sys.argv[2]), "h3", Home(sys.argv[3]), log=lambda m: print(m, flush=True))
"""


def test_kill_minus_9_then_resume_repeats_no_finished_trial(tiny_iemocap, tmp_path):
    profile_file = tiny_profile(tmp_path, trials=4)
    studies, db = tmp_path / "studies", tmp_path / "results.duckdb"
    storage = f"sqlite:///{studies / 'h3' / 'iemocap.valence.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tiny_iemocap), str(profile_file), str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    finished = 0
    while time.time() < deadline and finished < 2:
        time.sleep(0.2)
        if (studies / "h3" / "iemocap.valence.db").exists():
            try:
                study = condition_study(storage, "h3.iemocap.valence.flat")
                finished = len([t for t in study.trials if t.state.is_finished()])
            except Exception:  # noqa: BLE001 - the study may not exist yet
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_run = proc.stdout.read()[-4000:]  # shown when an assertion fails: what the killed run had done
    assert finished >= 2, f"the first run never finished two trials; its log:\n{killed_run}"
    before = {
        t.number: t.params for t in condition_study(storage, "h3.iemocap.valence.flat").trials if t.state.is_finished()
    }
    messages = []
    rows = run_hypothesis(
        _partition(tiny_iemocap), load_profile(profile_file), "h3", Home(tmp_path), log=messages.append
    )
    study = condition_study(storage, "h3.iemocap.valence.flat")
    story = (
        f"killed run:\n{killed_run}\nresumed run:\n"
        + "\n".join(messages[-40:])
        + "\ntrials: "
        + ", ".join(f"{t.number} {t.state.name} {t.user_attrs.get('reason', '')}" for t in study.trials)
    )
    for number, params in before.items():
        assert study.trials[number].params == params, story  # finished trials are kept as they were
    counted = [
        t
        for t in study.trials
        if t.state.is_finished() and not (t.state.name == "FAIL" and "reason" not in t.user_attrs)
    ]
    assert len(counted) == 4, story  # exactly the profile's trials: none repeated, none lost
    assert rows.groupby("condition").size().to_dict() == {"flat": 4, "han_rock": 4, "floor": 1}, story
    assert query(db, "SELECT count(*) AS n FROM trials")["n"].item() == 9
    assert not query(
        db, "SELECT hypothesis, condition, trial, count(*) AS n FROM trials GROUP BY ALL HAVING n > 1"
    ).shape[0]
    # pairs survive the interruption: slot k of both conditions has slot k's configuration
    searched = rows[rows["condition"] != "floor"].set_index(["condition", "trial"]).sort_index()
    assert list(searched.loc["flat"].index) == list(searched.loc["han_rock"].index) == [0, 1, 2, 3], story
    shared = [
        "learning_rate",
        "batch_size",
        "content_size",
        "dropout",
        "recurrent_dropout",
        "weight_scheme",
        "primary_weight",
    ]
    pd.testing.assert_frame_equal(searched.loc["flat", shared], searched.loc["han_rock", shared])
    attempts = rows.loc[rows["condition"] == "flat", "attempt"].tolist()
    assert attempts != [0, 1, 2, 3] or all(t.state.name != "FAIL" for t in study.trials), story  # a re-run slot


def _open_at(url: str, start: float) -> str:
    from hanrock_core.study.study_storage import open_storage

    while time.time() < start:  # every process opens the fresh file at the same moment
        pass
    try:
        open_storage(url)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported by the test
        return f"{type(exc).__name__}: {exc}"[:200]


def test_processes_opening_a_new_study_file_at_once_all_succeed(tmp_path):
    """Two openers of a fresh SQLite study file race to create its tables; neither may fail.

    (Plain optuna.storages.RDBStorage fails here for about half the processes: "table studies
    already exists", a duplicate alembic version row.  This race made the kill -9 test flaky.)
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(6) as pool:  # never fork a process whose torch threads hold locks
        pool.starmap(_open_at, [(f"sqlite:///{tmp_path / f'warm{i}.db'}", 0.0) for i in range(6)])  # workers ready
        for k in range(3):
            url = f"sqlite:///{tmp_path / f'race{k}.db'}"
            results = pool.starmap(_open_at, [(url, time.time() + 0.5)] * 6)
            assert results == ["ok"] * 6, results


def test_failing_trials_are_recorded_and_the_study_goes_on(tiny_iemocap, tmp_path):
    part = _partition(tiny_iemocap)
    part.data.aux[:, 0] = float("inf")  # every auxiliary loss explodes
    rows = run_hypothesis(part, load_profile(tiny_profile(tmp_path)), "h3", Home(tmp_path), log=lambda m: None)
    neural = rows[rows["condition"] != "floor"]
    assert len(neural) == 4 and (neural["state"] == "failed").all()
    assert neural["reason"].str.contains("the loss became").all()


DAGSTER_KILL = """
resources:
  study:
    config:
      profile: {profile}
"""


def test_killed_h1_study_resumes_from_the_command_line(tmp_path):
    """kill -9 of `dagster job execute -j h1_study` mid-way, then the same command again."""
    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nsynthetic: {{scale: 0.02, seed: 4}}\n")
    run_config = tmp_path / "run.yaml"
    run_config.write_text(DAGSTER_KILL.format(profile=tiny_profile(tmp_path, trials=3)))
    env = {k: v for k, v in os.environ.items() if k not in ("HANROCK_HOME", "DAGSTER_HOME")}
    env.update(
        HANROCK_CONFIG=str(settings), PYTHONPATH=str(REPO), DAGSTER_HOME=str(ensure_dagster_home(tmp_path / "dagster"))
    )
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "job",
        "execute",
        "-m",
        "hanrock_assets",
        "-j",
        "h1_study",
        "-c",
        str(run_config),
    ]
    studies = tmp_path / "home" / "studies" / "h1"
    log = (tmp_path / "first-run.log").open("w")
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(list(studies.glob("*.db"))) < 3 and proc.poll() is None:
        time.sleep(0.5)
    assert proc.poll() is None, (tmp_path / "first-run.log").read_text()[-3000:]
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(studies.glob("*.db")), "the first run trained nothing before it was killed"
    before = {}
    for db in studies.glob("*.db"):
        for name in optuna.get_all_study_names(f"sqlite:///{db}"):
            study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
            before.update({(name, t.number): t.params for t in study.trials if t.state.is_finished()})
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    results = tmp_path / "home" / "results.duckdb"
    per_condition = query(results, "SELECT dataset, task, condition, count(*) AS n FROM trials GROUP BY ALL")
    searched = per_condition[per_condition["condition"] != "floor"]
    assert len(searched) == 24 and (searched["n"] == 3).all()  # nothing missing, nothing twice
    assert len(per_condition) == 24 + 8  # and one bag-of-words floor per dataset.task
    for db in studies.glob("*.db"):
        for name in optuna.get_all_study_names(f"sqlite:///{db}"):
            study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
            for t in study.trials:
                if (name, t.number) in before:
                    assert t.params == before[(name, t.number)]  # finished trials were not run again
    assert query(results, "SELECT count(*) AS n FROM table1_h1")["n"].item() == 4  # none, ap, aphf, floor


def test_two_workers_give_the_same_trials_as_one(tiny_iemocap, tmp_path, monkeypatch):
    """Trial k's hyper-parameters, seed and pruning decisions do not depend on how many workers ran it."""
    part = _partition(tiny_iemocap)
    profile_file = tmp_path / "pruned.yaml"  # 4 epochs, pruning checked at 2 and 3: pruning decisions are compared too
    profile_file.write_text(
        TINY_PROFILE.format(trials=4)
        .replace("epochs: 2", "epochs: 4")
        .replace("{first_epoch: 5, every: 2}", "{first_epoch: 2, every: 1}")
    )
    profile = load_profile(profile_file)
    tables = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("HANROCK_TRIAL_WORKERS", workers)
        home = tmp_path / f"w{workers}"
        messages = []
        rows = run_hypothesis(part, profile, "h3", Home(home), log=messages.append)
        assert ("on 2 workers" in "\n".join(messages)) == (workers == "2")
        tables[workers] = rows.drop(columns=["seconds"]).sort_values(["condition", "trial"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(tables["1"], tables["2"])


def test_h4_runs_every_weighting_and_its_tables_show_them(tiny_iemocap, tmp_path, capsys):
    """H4 through the platform: each condition's weighting recorded, affinity beside MI, significance rows
    of every H4 comparison under both methods, the H4 table and `hanrock results affinity`."""
    from hanrock_core.base.results import mutual_information_rows
    from hanrock_core.base.staged_results import write_rows
    from hanrock_core.comparison.study_progress import write_significance_tables

    from .helpers import run_cli

    part = _partition(tiny_iemocap, "emotion")
    mi = mutual_information(build_auxiliary_targets(read_iemocap(tiny_iemocap), "emotion"))
    profile = load_profile(tiny_profile(tmp_path))
    db = tmp_path / "results.duckdb"
    write_rows(  # what the auxiliary targets' step writes before any training
        Home(tmp_path),
        "mutual_information",
        {"dataset": "iemocap", "task": "emotion"},
        mutual_information_rows("iemocap", "emotion", mi),
        lambda m: None,
    )
    rows = run_hypothesis(part, profile, "h4", Home(tmp_path), log=lambda m: None)
    assert set(rows["condition"]) == {"aphf", "none", "uncertainty", "gating", "lookahead", "auto", "floor"}
    affinity = query(db, "SELECT * FROM auxiliary_affinity")
    weightings = set(zip(affinity["condition"], affinity["weighting"]))
    assert {("aphf", "fixed"), ("uncertainty", "uncertainty"), ("gating", "gating"), ("auto", "auto")} <= weightings
    assert "none" not in set(affinity["condition"])  # no auxiliary target, nothing to measure
    aphf = affinity[affinity["condition"] == "aphf"]
    assert len(aphf) == 16 and aphf["mi_rank"].notna().all() and aphf["affinity"].notna().all()
    assert sorted(aphf["affinity_rank"]) == sorted(aphf["affinity"].rank(ascending=False, method="min").astype(int))
    assert affinity.loc[affinity["condition"] == "auto", "kept_share"].notna().all()
    table, _ = write_significance_tables(db, "h4", profile, log=lambda m: None)
    pairs = set(zip(table["baseline"], table["challenger"], table["method"]))
    for pair in [("aphf", c) for c in ("uncertainty", "gating", "lookahead", "auto")] + [("none", "auto")]:
        assert {(*pair, "paper"), (*pair, "paired"), (*pair, "search")} <= pairs
    h4 = query(db, "SELECT * FROM table_h4_weighting")
    assert list(h4["Weighting"]) == [  # the learned weightings by name: the views name none of them
        "aphf, fixed (Baseline)",
        "auto",
        "gating",
        "lookahead",
        "uncertainty",
        "None",
        "Floor: TF-IDF (not in paper)",
    ]
    code, out, err = run_cli(capsys, "results", "affinity", "--db", db)
    assert code == 0, err
    assert "affinity_rank" in out and "mi_rank" in out and "emotion_t-1" in out
    families = query(db, "SELECT * FROM auxiliary_affinity_family WHERE condition = 'aphf'")
    assert set(families["family"]) == {"actions", "prosody", "historical", "future"}
    means = aphf.groupby("family")["affinity"].mean().round(4)
    assert (families.set_index("family")["affinity"] - means.reindex(families["family"])).abs().max() < 2e-4
    code, out, err = run_cli(capsys, "results", "affinity_family", "--db", db)
    assert code == 0 and "historical" in out, err
