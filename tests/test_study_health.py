"""Study health (trials at chance, models still improving, below the floor) and seed replicates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.comparison.study_progress import write_significance_tables
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.study_health import chance_levels, describe, flagged_comparisons, health

from .helpers import run_cli
from .test_search import TINY_PROFILE, _partition


def _profile(tmp_path, name: str, extra: str = "", epochs: int = 2):
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        TINY_PROFILE.format(trials=2).replace("name: tiny", f"name: {name}").replace("epochs: 2", f"epochs: {epochs}")
        + extra
    )
    return load_profile(path)


def test_chance_levels_are_the_trivial_predictors(tiny_iemocap):
    emotion = _partition(tiny_iemocap, "emotion").data
    levels = chance_levels(emotion)
    present = len(np.unique(emotion.primary[emotion.labelled("dev")].numpy()))  # the tiny corpus's dev lacks a class
    assert levels["metric"] == "balanced_accuracy" and levels["dev_value"] == pytest.approx(1 / present)
    assert "majority train class" in levels["predictor"]
    valence = _partition(tiny_iemocap, "valence").data
    levels = chance_levels(valence)
    train = valence.primary[valence.labelled("train")].numpy()
    dev = valence.primary[valence.labelled("dev")].numpy()
    assert levels["dev_value"] == pytest.approx(np.abs(dev - train.mean()).mean(), rel=1e-5)


def test_a_study_that_never_learnt_is_flagged_where_users_look(tiny_iemocap, tmp_path, capsys):
    """One epoch: every selected model was still improving when it stopped; trials at chance are counted."""
    part = _partition(tiny_iemocap, "emotion")
    profile = _profile(tmp_path, "stuck", epochs=1)
    db = tmp_path / "results.duckdb"
    run_hypothesis(part, profile, "h3", Home(tmp_path), log=lambda m: None)
    rows = health(db, "h3")
    assert list(rows["condition"]) == ["flat", "han_rock"]
    assert (rows["still_improving"]).all() and (rows["epochs_run"] == 1).all()
    chance = rows["chance_dev"].iloc[0]
    assert chance == pytest.approx(chance_levels(part.data)["dev_value"])
    at_chance = query(
        db,
        "SELECT condition, count(*) FILTER (WHERE dev_value <= ? + 0.02) AS n FROM trials "
        "WHERE condition <> 'floor' GROUP BY ALL ORDER BY condition",
        [chance],
    )
    assert list(rows["trials_at_chance"]) == list(at_chance["n"])  # the view's margin: 0.02 above chance
    assert all("still improving at its last epoch (1)" in f for f in rows["flags"])
    assert rows["below_floor"].tolist() == list(rows["selected_dev"] < rows["floor_dev"])
    table, _ = write_significance_tables(db, "h3", profile, lambda m: None)
    pairs = table[["baseline", "challenger"]].drop_duplicates()  # a pair counts once, whatever tests judged it
    assert flagged_comparisons(table, rows) == len(pairs)  # every comparison involves a flagged model
    assert len(describe(rows)) == 2
    code, out, _ = run_cli(capsys, "results", "health", "--db", db)
    assert code == 0 and "still improving at its last epoch" in out


def test_patience_marks_a_selected_model_as_finished(tiny_iemocap, tmp_path):
    part = _partition(tiny_iemocap, "valence")
    profile = _profile(tmp_path, "patient", "patience: 1\n", epochs=12)
    db = tmp_path / "results.duckdb"
    rows = run_hypothesis(part, profile, "h3", Home(tmp_path), log=lambda m: None)
    searched = rows[rows["condition"] != "floor"]
    assert set(searched["stopped"]) <= {"patience", "epochs", "pruned"}
    assert ((searched["stopped"] != "patience") | (searched["best_epoch"] == searched["epochs_run"] - 1)).all()
    report = health(db, "h3")
    stopped_early = report["stopped"] == "patience"
    assert not report.loc[stopped_early, "still_improving"].any()


def test_seed_replicates_give_a_mean_and_sd_and_are_not_trained_twice(tiny_iemocap, tmp_path):
    part = _partition(tiny_iemocap, "valence")
    profile = _profile(tmp_path, "seeds", "replicates: 2\n")
    db = tmp_path / "results.duckdb"
    messages = []
    run_hypothesis(part, profile, "h3", Home(tmp_path), log=messages.append)
    seeds = query(db, "SELECT * FROM replicates ORDER BY condition, replicate")
    # every seed of a selected configuration, the selected trial itself counted as replicate 0 (issue 43)
    assert len(seeds) == 6 and list(seeds["replicate"]) == [0, 1, 2, 0, 1, 2]
    reps = seeds[seeds["replicate"] > 0]
    assert (reps.groupby("condition")["seed"].nunique() == 2).all() and seeds["test_value"].notna().all()
    # seeds follow the selected trial's seed: conditions that select the same slot share them (paired)
    long = query(db, "SELECT * FROM results_long WHERE condition <> 'floor' ORDER BY condition")
    assert (long["seeds"] == 3).all()
    selected = query(
        db, "SELECT condition, test_value FROM selected_trials WHERE condition <> 'floor' ORDER BY condition"
    )
    for (condition, group), value in zip(reps.groupby("condition"), selected["test_value"]):
        values = np.r_[value, group["test_value"].to_numpy()]
        row = long[long["condition"] == condition].iloc[0]
        assert row["test_mean"] == pytest.approx(values.mean()) and row["test_sd"] == pytest.approx(values.std(ddof=1))
        assert f"±{values.std(ddof=1):.3f}" in row["cell"]
    assert any("2 seed replicates" in m for m in messages)
    files = sorted((tmp_path / "studies" / "h3").glob("*.replicates/*/*.json"))
    assert len(files) == 4 and json.loads(files[0].read_text())["replicate"] == 1
    stamps = [f.stat().st_mtime_ns for f in files]
    run_hypothesis(part, profile, "h3", Home(tmp_path), log=lambda m: None)  # nothing trained again
    assert [f.stat().st_mtime_ns for f in files] == stamps
    pd.testing.assert_frame_equal(query(db, "SELECT * FROM replicates ORDER BY condition, replicate"), seeds)


def test_replicates_in_two_workers_equal_those_of_one(tiny_iemocap, tmp_path, monkeypatch):
    part = _partition(tiny_iemocap, "valence")
    profile = _profile(tmp_path, "seeds", "replicates: 2\n")
    tables = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("HANROCK_TRIAL_WORKERS", workers)
        home = tmp_path / f"w{workers}"
        messages = []
        run_hypothesis(part, profile, "h3", Home(home), log=messages.append)
        assert ("4 seed replicates on 2 workers" in "\n".join(messages)) == (workers == "2")
        tables[workers] = query(home / "results.duckdb", "SELECT * EXCLUDE (identity) FROM replicates ORDER BY ALL")
    pd.testing.assert_frame_equal(tables["1"], tables["2"])


def test_a_class_train_lacks_counts_as_an_error_not_a_row_left_out(tiny_iemocap, tmp_path):
    """'sad' only in test: every condition and the floor are scored on every labelled test talkturn, the
    talkturns of 'sad' count as errors, and study health says why."""
    from hanrock_core.base.metrics import classification_metrics
    from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
    from hanrock_core.preparation.mi_loss_weights import mutual_information
    from hanrock_core.preparation.narrative import narrative_table
    from hanrock_core.reading.corpora import read_iemocap
    from hanrock_core.study.partition_data import PartitionData

    table = read_iemocap(tiny_iemocap)
    moved = table["split"].isin(["train", "dev"]) & (table["label_emotion"] == "sad")
    table.loc[moved, "label_emotion"] = "neutral"
    targets = build_auxiliary_targets(table, "emotion")
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    part = PartitionData.build("iemocap", "emotion", table, inputs, targets, mutual_information(targets))
    assert "sad" in part.data.classes
    run_hypothesis(part, _profile(tmp_path, "unseen"), "h3", Home(tmp_path), log=lambda m: None)
    db = tmp_path / "results.duckdb"
    test = table[(table["split"] == "test") & table["label_emotion"].notna()].set_index("utterance_id")
    assert (test["label_emotion"] == "sad").sum() > 0
    predictions = query(db, "SELECT * FROM predictions")
    trials = query(db, "SELECT * FROM selected_trials")
    for condition, rows in predictions.groupby("condition"):
        assert len(rows) == len(test), condition  # none of the labelled test talkturns is left out
        assert (rows.set_index("utterance_id").loc[test.index, "truth"] == test["label_emotion"]).all()
        classes = sorted(set(test["label_emotion"]) | set(rows["prediction"]) | set(part.data.classes))
        index = {c: i for i, c in enumerate(classes)}
        measured = classification_metrics(
            rows["truth"].map(index).to_numpy(), rows["prediction"].map(index).to_numpy(), classes
        )["balanced_accuracy"]
        assert trials.loc[trials["condition"] == condition, "test_value"].item() == pytest.approx(measured)
    flags = " ".join(health(db, "h3")["flags"].fillna(""))
    assert "'sad' never in train" in flags and "test talkturns count as errors" in flags
