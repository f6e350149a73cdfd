"""A study is what its inputs make it: a re-run on another profile or other data never resumes the old
study, every result table and kept model holds the current inputs' trials only, the old studies stay
queryable as superseded, and an option refuses instead."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.comparison.study_progress import write_significance_tables
from hanrock_core.learning.kept_model import open_card
from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
from hanrock_core.preparation.mi_loss_weights import mutual_information
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.study_identity import (
    PARTS,
    RESULT_CARRIERS,
    TRIAL_ENTRY_POINTS,
    StudyIdentity,
    code_part,
    module_source,
    study_identity,
    trial_modules,
)

from .test_search import TINY_PROFILE


def _profile(tmp_path: Path, name: str, trials: int, learning_rate: tuple[float, float]):
    path = tmp_path / f"{name}.yaml"
    text = TINY_PROFILE.format(trials=trials).replace("name: tiny", f"name: {name}")
    text = text.replace("space: {", f"space: {{learning_rate: [{learning_rate[0]}, {learning_rate[1]}], ")
    path.write_text(text)
    return load_profile(path)


def _partition(table: pd.DataFrame, task: str = "valence") -> PartitionData:
    targets = build_auxiliary_targets(table, task)
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    return PartitionData.build("iemocap", task, table, inputs, targets, mutual_information(targets))


def _run(part, profile, home: Path, messages: list | None = None, **kwargs) -> pd.DataFrame:
    log = messages.append if messages is not None else (lambda m: None)
    return run_hypothesis(part, profile, "h3", Home(home), log=log, **kwargs)


def _current(home: Path, table: str = "trials") -> pd.DataFrame:
    return query(home / "results.duckdb", f"SELECT * FROM {table} ORDER BY condition, trial")


def test_identity_parts_follow_their_inputs(tiny_iemocap, tmp_path):
    table = read_iemocap(tiny_iemocap)
    profile = _profile(tmp_path, "a", 2, (0.001, 0.01))
    base = study_identity(_partition(table), profile)
    assert set(base.parts) == set(PARTS) and len(base.id) == 12
    renamed = _profile(tmp_path, "renamed", 2, (0.001, 0.01))
    more_trials = _profile(tmp_path, "more", 5, (0.001, 0.01))
    assert study_identity(_partition(table), renamed) == base  # a copy under another name is the same study
    assert study_identity(_partition(table), more_trials) == base  # trial k does not depend on how many run
    assert base.differs(study_identity(_partition(table), _profile(tmp_path, "b", 2, (0.002, 0.01))).parts) == [
        "profile"
    ]
    relabelled = table.copy()
    relabelled.loc[relabelled["split"] == "test", "label_valence"] += 0.5
    assert base.differs(study_identity(_partition(relabelled), profile).parts) == ["targets", "data"]
    assert StudyIdentity(base.parts).differs(None) == list(PARTS)  # a study made before identities
    assert code_part() == code_part()
    with_replicates = TINY_PROFILE.format(trials=2).replace("name: tiny", "name: a") + "replicates: 3\n"
    (tmp_path / "replicates.yaml").write_text(
        with_replicates.replace("space: {", "space: {learning_rate: [0.001, 0.01], ")
    )
    # more seed replicates train the missing ones: the search stays the same study
    assert study_identity(_partition(table), load_profile(tmp_path / "replicates.yaml")) == base


def test_the_code_part_covers_every_module_a_trial_runs():
    modules = set(trial_modules())
    # the modules that decide a trial's configuration, seed, loss weights and training
    for name in (
        "study.objective",
        "learning.search_space",
        "study.hypotheses",
        "study.replicates",
        "learning.training",
        "learning.model",
        "learning.kernels",
    ):
        assert f"hanrock_core.{name}" in modules, name
    assert not {"hanrock_core.cli", "hanrock_core.reports.plots", "hanrock_core.comparison.significance"} & modules
    # what Python's own import machinery loads for the entry points is inside the closure grimp found
    imports = "; ".join(f"import hanrock_core.{e}" for e in TRIAL_ENTRY_POINTS)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{imports}; import sys; print(' '.join(m for m in sys.modules if m.startswith('hanrock_core')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # what else loads is a result carrier, or reached only through one
    carriers = {f"hanrock_core.{m}" for m in RESULT_CARRIERS}
    import grimp

    graph = grimp.build_graph("hanrock_core", cache_dir=None)
    behind = set().union(*(graph.find_upstream_modules(c) for c in carriers))
    outside = set(loaded) - modules
    assert outside <= carriers | behind, outside - carriers - behind


def test_code_that_only_carries_results_restarts_no_study():
    """Changing the HANROCK_* variables, the kept-model writer, the study storage or the CLI leaves every
    study's identity as it is; changing the loss, the model, the sampler or the narrative does not."""
    modules = set(trial_modules())
    assert all(importlib.util.find_spec(f"hanrock_core.{m}") for m in RESULT_CARRIERS)  # real modules
    base = code_part()
    for carrier in ("base.deployment", "learning.kept_model", "study.keeping", "study.study_storage", "cli"):
        name = f"hanrock_core.{carrier}"
        assert name not in modules, f"{name} is in the closure: a change to it would restart every study"
        assert code_part({name: module_source(name) + "\n_probe = 1\n"}) == base
    for decides in ("learning.training", "learning.model", "study.median_stopping", "preparation.narrative"):
        name = f"hanrock_core.{decides}"
        assert code_part({name: module_source(name) + "\n_probe = 1\n"}) != base, name


def test_any_change_to_a_module_a_trial_runs_changes_the_code_part():
    base = code_part()
    for module in trial_modules():
        changed = module_source(module) + "\n_probe = 1\n"
        assert code_part({module: changed}) != base, f"a change to {module} left the identity unchanged"
    objective = module_source("hanrock_core.study.objective")
    first_line = objective.splitlines()[0]
    assert first_line.startswith('"""')
    assert code_part({"hanrock_core.study.objective": objective.replace(first_line, '"""Reworded.', 1)}) == base
    assert code_part({"hanrock_core.study.objective": objective + "\n# a comment\n"}) == base
    assert code_part({"hanrock_core.cli": "x = 1\n"}) == base  # a module no trial imports


def test_another_profile_starts_new_studies_and_never_mixes_them(tiny_iemocap, tmp_path):
    home = tmp_path / "home"
    part = _partition(read_iemocap(tiny_iemocap))
    old = _profile(tmp_path, "old", 2, (0.001, 0.002))
    new = _profile(tmp_path, "new", 3, (0.01, 0.02))
    first = _run(part, old, home)
    messages = []
    second = _run(part, new, home, messages)
    said = "\n".join(messages)
    assert "profile differ from" in said and "already finished" not in said, said
    assert "running 3 of 3 trials (0 finished before)" in said
    trials = _current(home)
    searched = trials[trials["condition"] != "floor"]
    assert len(searched) == 6 and searched["learning_rate"].between(0.01, 0.02).all()  # the new profile's only
    assert trials["identity"].nunique() == 1 and trials["identity"].iloc[0] != first["identity"].iloc[0]
    assert query(home / "results.duckdb", "SELECT count(*) AS n FROM all_trials")["n"].item() == len(first) + len(
        second
    )
    superseded = query(home / "results.duckdb", "SELECT * FROM superseded_studies")
    assert superseded[["identity", "profile", "what_differs", "trials"]].values.tolist() == [
        [first["identity"].iloc[0], "old", "profile", len(first)]
    ]
    assert set(_current(home, "predictions")["identity"]) == set(trials["identity"])
    assert set(_current(home, "epochs")["identity"]) == set(trials["identity"])
    table, f1 = write_significance_tables(home / "results.duckdb", "h3", new, lambda m: None)
    assert set(table["identity"]) == set(trials["identity"])
    for condition in ("flat", "han_rock"):
        card = open_card(home / "models" / "h3" / "iemocap.valence" / condition)
        assert card["identity"]["id"] == trials["identity"].iloc[0] and card["profile"]["name"] == "new"
        assert 0.01 <= card["training"]["learning_rate"] <= 0.02
    # going back to the old profile resumes its studies (nothing trained) and makes them current again
    messages = []
    _run(part, old, home, messages)
    said = "\n".join(messages)
    assert "returning to the studies of inputs" in said and said.count("already finished") == 2, said
    assert set(_current(home)["identity"]) == {first["identity"].iloc[0]}


def test_refuse_says_what_differs_and_trains_nothing(tiny_iemocap, tmp_path):
    home = tmp_path / "home"
    part = _partition(read_iemocap(tiny_iemocap))
    _run(part, _profile(tmp_path, "old", 2, (0.001, 0.002)), home)
    before = _current(home)
    with pytest.raises(InputError, match=r"trained on other inputs \(profile differ\).*on_changed_inputs: new_study"):
        _run(part, _profile(tmp_path, "new", 2, (0.01, 0.02)), home, on_changed_inputs="refuse")
    pd.testing.assert_frame_equal(_current(home), before)


def test_changed_labels_retrain_and_every_table_reports_the_new_data(tiny_iemocap, tmp_path):
    home = tmp_path / "home"
    profile = _profile(tmp_path, "p", 2, (0.001, 0.01))
    table = read_iemocap(tiny_iemocap)
    first = _run(_partition(table), profile, home)
    changed = table.copy()
    rng = np.random.default_rng(0)
    labelled = changed.index[changed["label_valence"].notna() & changed["split"].isin(["train", "test"])]
    picked = rng.choice(labelled, size=int(0.3 * len(labelled)), replace=False)
    changed.loc[picked, "label_valence"] = 6.0 - changed.loc[picked, "label_valence"]  # 30% of train and test labels
    messages = []
    second = _run(_partition(changed), profile, home, messages)
    said = "\n".join(messages)
    assert "targets, data differ from" in said and "already finished" not in said, said
    trials = _current(home)
    assert set(trials["identity"]) == set(second["identity"]) != set(first["identity"])
    predictions = _current(home, "predictions")
    truth = changed.set_index("utterance_id")["label_valence"]
    for _, rows in predictions.groupby("condition"):  # every test value is scored on today's labels
        assert np.allclose(rows["truth"].astype(float), truth.loc[rows["utterance_id"]].to_numpy())
    floor = trials[trials["condition"] == "floor"]
    assert floor["identity"].item() == trials["identity"].iloc[0]
    cards = {c: open_card(home / "models" / "h3" / "iemocap.valence" / c) for c in ("flat", "han_rock")}
    for condition, card in cards.items():
        selected = trials[(trials["condition"] == condition) & (trials["trial"] == card["trial"])].iloc[0]
        assert card["identity"]["id"] == selected["identity"]
        assert card["metrics"]["test"]["mae"] == pytest.approx(selected["test_value"])
        assert json.loads(selected["test_metrics"])["mae"] == pytest.approx(selected["test_value"])


def _kept_predictions_match_the_results(home: Path, table: pd.DataFrame, condition: str) -> dict:
    """The kept model of `condition` predicts exactly the test predictions the current results hold."""
    from hanrock_core.learning.kept_model import open_model
    from hanrock_core.learning.prediction import predict_talkturns

    model = open_model(home / "models" / "h3" / "iemocap.valence" / condition)
    stored = query(
        home / "results.duckdb",
        "SELECT utterance_id, prediction FROM predictions WHERE condition = ? AND trial = ?",
        [condition, model.card["trial"]],
    )
    assert len(stored)
    predicted = predict_talkturns(model, table, split="test").set_index("utterance_id")
    assert np.allclose(stored["prediction"].astype(float), predicted.loc[stored["utterance_id"], "prediction"])
    return model.card


def test_kept_models_follow_the_identity_the_tables_show(tiny_iemocap, tmp_path):
    """A -> B -> A: the tables return to A without training, and so do the kept models; without A's saved
    models the selected trials are trained again and must reproduce their recorded dev values."""
    home = tmp_path / "home"
    table = read_iemocap(tiny_iemocap)
    part = _partition(table)
    a, b = _profile(tmp_path, "a", 2, (0.001, 0.002)), _profile(tmp_path, "b", 2, (0.01, 0.02))
    first = _run(part, a, home)["identity"].iloc[0]
    second = _run(part, b, home)["identity"].iloc[0]
    assert {p.name for p in (home / "models" / "h3" / "iemocap.valence" / "superseded").iterdir()} == {first}
    messages = []
    _run(part, a, home, messages)
    said = "\n".join(messages)
    assert "flat (trial" in said and "restored" in said, said
    for condition in ("flat", "han_rock"):
        card = _kept_predictions_match_the_results(home, table, condition)
        assert card["identity"]["id"] == first and card["profile"]["name"] == "a"
        superseded = home / "models" / "h3" / "iemocap.valence" / "superseded" / second / condition
        assert open_card(superseded)["identity"]["id"] == second  # B's model waits in turn
    # A's models lost (a copied data directory, a cleaned disk): back on B, then on A, they are rebuilt
    _run(part, b, home)
    import shutil

    shutil.rmtree(home / "models" / "h3" / "iemocap.valence" / "superseded" / first)
    messages = []
    _run(part, a, home, messages)
    assert "rebuilt" in "\n".join(messages), messages
    for condition in ("flat", "han_rock"):
        assert _kept_predictions_match_the_results(home, table, condition)["identity"]["id"] == first
