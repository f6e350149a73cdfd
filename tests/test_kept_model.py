"""Kept models: what a search keeps, and `hanrock predict` refusing what it must refuse."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import optuna
import pandas as pd
import pytest

from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.learning.kept_model import open_model
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import train
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.selection import could_be_selected, selected_trials

from .conftest import TINY_SCALE
from .helpers import run_cli
from .test_search import _partition

TINY_PROFILE = """name: tiny-kept
trials_per_condition: 4
epochs: 3
capacity_total: 5
h2_primary_units: [4, 2, 1]
default_primary_units: 4
embedding_dim: 8
optimizer: adam
median_pruning: {first_epoch: 5, every: 2}
space: {content_size: [1, 2], batch_size: [16, 32], l2: [0.0, 0.0]}
"""


@pytest.fixture(scope="module")
def valence_study(tmp_path_factory):
    """A finished h1 search on the tiny iemocap.valence (regression)."""
    from hanrock_core.reading.synthetic import generate

    base = tmp_path_factory.mktemp("kept")
    root = generate("iemocap", base / "iemocap", scale=TINY_SCALE, seed=7)
    (base / "profile.yaml").write_text(TINY_PROFILE)
    part = _partition(root, "valence")
    logs: list[str] = []
    rows = run_hypothesis(part, load_profile(base / "profile.yaml"), "h1", Home(base / "home"), log=logs.append)
    return base, root, part, rows, logs


def test_the_search_keeps_the_selected_model_of_each_condition(valence_study):
    base, root, part, rows, logs = valence_study
    home = base / "home"
    chosen = selected_trials(rows[rows["condition"] != "floor"])
    assert set(chosen) == {"none", "ap", "aphf"}
    for condition, trial in chosen.items():
        card = open_model(home / "models" / "h1" / "iemocap.valence" / condition).card
        row = rows[(rows["condition"] == condition) & (rows["trial"] == trial)].iloc[0]
        assert card["trial"] == trial and card["state"] == row["state"] and card["best_epoch"] == row["best_epoch"]
        assert card["metrics"]["test"]["mae"] == row["test_value"] and card["labels"]["kind"] == "regression"
        assert card["inputs"] == {
            **card["inputs"],
            "narrative_family": "vpa",
            "keep_punctuation": "",
            "content_size": row["content_size"],
            "vocabulary_size": len(part.data.vocab),
        }
        assert card["loss_weights"]["primary"] == pytest.approx(row["primary_weight"])
    assert not list((home / "studies" / "h1" / "iemocap.valence.states").glob("*.pt"))
    assert any("kept models none (trial" in line for line in logs)
    # the predictions table holds every condition's selected trial (a pruned one's too: training stops
    # at the pruned epoch and returns its best epoch, test_training_stopped_by_its_callback...)
    stored = query(
        home / "results.duckdb", "SELECT DISTINCT condition, trial FROM predictions WHERE condition <> 'floor'"
    )
    assert dict(zip(stored["condition"], stored["trial"])) == chosen


def test_predict_reproduces_the_stored_regression_predictions(valence_study, tmp_path, capsys):
    base, root, part, rows, _ = valence_study
    table = tmp_path / "talkturns.parquet"
    read_iemocap(root).to_parquet(table)
    chosen = selected_trials(rows[rows["condition"] != "floor"])
    folder = base / "home" / "models" / "h1" / "iemocap.valence" / "aphf"
    out = tmp_path / "p.parquet"
    code, printed, err = run_cli(capsys, "predict", folder, table, "--split", "test", "--out", out)
    assert code == 0, err
    predicted = pd.read_parquet(out).set_index("utterance_id")
    stored = query(
        base / "home" / "results.duckdb",
        "SELECT utterance_id, prediction FROM predictions WHERE condition = 'aphf' AND trial = ?",
        [chosen["aphf"]],
    )
    assert [float(v) for v in stored["prediction"]] == predicted.loc[stored["utterance_id"], "prediction"].tolist()
    row = rows[(rows["condition"] == "aphf") & (rows["trial"] == chosen["aphf"])].iloc[0]
    assert f"{row['test_value']:.4f}" in printed  # the test MAE, as the study measured it
    assert set(predicted["split"]) == {"test"}


def _copy_model(valence_study, tmp_path):
    folder = valence_study[0] / "home" / "models" / "h1" / "iemocap.valence" / "ap"
    return shutil.copytree(folder, tmp_path / "model")


def _table(valence_study, tmp_path):
    path = tmp_path / "talkturns.parquet"
    read_iemocap(valence_study[1]).to_parquet(path)
    return path


def _refused(capsys, tmp_path, model, table, *expected, extra=()):
    out = tmp_path / "p.parquet"
    code, _, err = run_cli(capsys, "predict", model, table, "--out", out, *extra)
    assert code == 2, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not out.exists() and "Traceback" not in err
    return err


@pytest.mark.parametrize("name", ["weights.pt", "model.json", "vocabulary.txt"])
def test_a_changed_model_file_is_refused(valence_study, tmp_path, capsys, name):
    model = _copy_model(valence_study, tmp_path)
    data = bytearray((model / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (model / name).write_bytes(bytes(data))
    _refused(
        capsys,
        tmp_path,
        model,
        _table(valence_study, tmp_path),
        f"{name} was changed since the model was written",
        str(model / name),
    )


def test_a_folder_without_sums_and_a_mismatched_vocabulary_are_refused(valence_study, tmp_path, capsys):
    model = _copy_model(valence_study, tmp_path)
    table = _table(valence_study, tmp_path)
    (model / "SHA256SUMS").rename(tmp_path / "sums")
    _refused(capsys, tmp_path, model, table, "not a kept model folder: SHA256SUMS is missing")
    # a vocabulary of another model, with sums that match it: the sizes disagree with the weights
    words = (model / "vocabulary.txt").read_text().splitlines()
    (model / "vocabulary.txt").write_text("\n".join(words[:-3]) + "\n")
    sums = (tmp_path / "sums").read_text().splitlines()
    digest = hashlib.sha256((model / "vocabulary.txt").read_bytes()).hexdigest()
    (model / "SHA256SUMS").write_text(
        "\n".join(f"{digest}  vocabulary.txt" if line.endswith("vocabulary.txt") else line for line in sums) + "\n"
    )
    _refused(capsys, tmp_path, model, table, f"the vocabulary has {len(words) - 3} words", "but the model embeds")


def test_inputs_the_model_cannot_read_are_refused(valence_study, tmp_path, capsys):
    model = valence_study[0] / "home" / "models" / "h1" / "iemocap.valence" / "ap"
    table = read_iemocap(valence_study[1])
    no_prosody = tmp_path / "text_only.parquet"
    table.drop(columns=["tone_sadness"]).to_parquet(no_prosody)
    _refused(capsys, tmp_path, model, no_prosody, "the model reads 'vpa' narratives", "tone_sadness")
    not_a_table = tmp_path / "ids.parquet"
    table[["utterance_id", "text"]].to_parquet(not_a_table)
    _refused(capsys, tmp_path, model, not_a_table, "not a talkturn table", "dialogue")
    _refused(capsys, tmp_path, tmp_path / "nowhere", not_a_table, "no such kept model")


def test_a_label_the_classifier_does_not_know_is_refused(valence_study, tmp_path, capsys):
    """A classification model (the emotion partition, two quick trials) against a table with a foreign label."""
    base, root, *_ = valence_study
    part = _partition(root, "emotion")
    profile = tmp_path / "p.yaml"
    profile.write_text(
        TINY_PROFILE.replace("trials_per_condition: 4", "trials_per_condition: 2").replace("epochs: 3", "epochs: 1")
    )
    run_hypothesis(part, load_profile(profile), "h3", Home(tmp_path / "home"), log=lambda m: None)
    table = read_iemocap(root)
    labelled = table["label_emotion"].notna()
    table.loc[labelled[labelled].index[3], "label_emotion"] = "bored"
    path = tmp_path / "bored.parquet"
    table.to_parquet(path)
    model = tmp_path / "home" / "models" / "h3" / "iemocap.emotion" / "han_rock"
    _refused(
        capsys,
        tmp_path,
        model,
        path,
        "label_emotion holds 'bored'",
        "the model does not know",
        "['angry', 'happy', 'neutral', 'sad']",
    )


def test_only_a_trial_that_may_still_be_selected_keeps_its_state():
    study = optuna.create_study(direction="maximize")
    for value in [0.5, 0.7, 0.7]:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"dev": {"balanced_accuracy": value}}))
    assert could_be_selected(study, 1, 0.7, "balanced_accuracy", True)  # best, first of the tie
    assert not could_be_selected(study, 2, 0.7, "balanced_accuracy", True)  # tie with a lower number: never chosen
    assert not could_be_selected(study, 0, 0.5, "balanced_accuracy", True)
    assert could_be_selected(study, 3, 0.8, "balanced_accuracy", True)
    errors = optuna.create_study(direction="minimize")
    for value in (0.5, 0.9):
        errors.add_trial(optuna.trial.create_trial(value=value, user_attrs={"dev": {"mae": value}}))
    assert not could_be_selected(errors, 2, 0.8, "mae", False)  # lower is better: 0.5 wins
    assert could_be_selected(errors, 2, 0.4, "mae", False)


def test_training_stopped_by_its_callback_returns_the_best_epoch_so_far(valence_study):
    part = valence_study[2]
    config = TrainConfig(
        primary_units=4,
        aux_units=1,
        embedding_dim=8,
        batch_size=32,
        content_size=1,
        epochs=5,
        optimizer="adam",
        compile="off",
    )
    result = train(part.data, config, np.r_[1.0, np.zeros(len(part.data.aux_names))], on_epoch=lambda e, r: e == 2)
    assert len(result.history) == 2 and result.best_epoch in (1, 2) and result.state_dict is not None
    assert result.test_predictions is not None and json.dumps(result.test)


def test_a_new_selection_replaces_the_kept_folder_whole(valence_study, tmp_path):
    from hanrock_core.learning.kept_model import open_card, write_model

    source = valence_study[0] / "home" / "models" / "h1" / "iemocap.valence" / "ap"
    card, vocab = open_card(source), open_model(source).vocab
    target = tmp_path / "models" / "ap"
    write_model(target, source / "weights.pt", {**card, "trial": 1}, vocab)
    write_model(target, source / "weights.pt", {**card, "trial": 2}, vocab)
    assert open_card(target)["trial"] == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["ap"], "no temporary folder is left behind"


@pytest.mark.parametrize(
    "setting, value, marks", [("speaker_context", "true", "speaker_marks"), ("content_after", "1", "own_mark")]
)
def test_a_model_with_marked_content_context_predicts_what_the_study_stored(
    valence_study, tmp_path, capsys, setting, value, marks
):
    """speaker_context (marks by speaker) and content_after (following talkturns, the sample's own marked):
    the kept model carries the setting, and `hanrock predict` builds the new table's windows and speakers as
    the study did, reproducing the stored test predictions exactly."""
    _, root, part, _, _ = valence_study
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        TINY_PROFILE.replace("trials_per_condition: 4", "trials_per_condition: 2") + f"{setting}: {value}\n"
    )
    home = Home(tmp_path / "home")
    rows = run_hypothesis(part, load_profile(profile), "h1", home, log=lambda _: None)
    chosen = selected_trials(rows[rows["condition"] != "floor"])
    folder = home.root / "models" / "h1" / "iemocap.valence" / "none"
    kept = open_model(folder)
    assert kept.card["shape"][setting] and getattr(kept.network, marks) is not None
    assert getattr(kept.network, marks).abs().sum() > 0  # the marks learnt something
    table = tmp_path / "talkturns.parquet"
    read_iemocap(root).to_parquet(table)
    out = tmp_path / "p.parquet"
    code, _, err = run_cli(capsys, "predict", folder, table, "--split", "test", "--out", out)
    assert code == 0, err
    predicted = pd.read_parquet(out).set_index("utterance_id")
    stored = query(
        home.root / "results.duckdb",
        "SELECT utterance_id, prediction FROM predictions WHERE condition = 'none' AND trial = ?",
        [chosen["none"]],
    )
    assert [float(v) for v in stored["prediction"]] == predicted.loc[stored["utterance_id"], "prediction"].tolist()
