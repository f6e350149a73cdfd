"""`hanrock predict` feeds a kept model the words the study fed it, however the talkturns are handed over.

The narrative's tone, speed and delay words are z-scores against each speaker's norm. A study measures
the norms on its whole table; a file of new conversations holds a few of those talkturns only, so
norms measured on it give other words. Kept models carry the study's norms (issue 41, case 1).

The corpus is the synthetic IEMOCAP written as a bring-your-own dataset whose two speakers ("woman",
"man") speak in every split, as EmoryNLP's main characters do.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.home import Home
from hanrock_core.learning.kept_model import open_model
from hanrock_core.learning.prediction import model_inputs, ordered_talkturns
from hanrock_core.preparation.auxiliary_target import AuxiliarySpec, available_families, build_auxiliary_targets
from hanrock_core.preparation.mi_loss_weights import mutual_information
from hanrock_core.preparation.narrative import NarrativeRecipe, build_narratives, narrative_table
from hanrock_core.reading.corpora import read_byo, read_iemocap
from hanrock_core.reading.synthetic import generate
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.selection import selected_trials

from .helpers import run_cli

SPEC = """name: conv
files: {train: train.csv, dev: dev.csv, test: test.csv}
columns: {text: Utterance, speaker: Speaker, dialogue: Dialogue, order: Order, start: Start, end: End}
features: {tone_sadness: Sad, tone_anger: Angry, tone_happiness: Happy}
speaker_noun: speaker
speaker_disjoint: false
labels:
  emotion: {column: Emotion, type: class}
"""
PROFILE = """name: tiny-predict
trials_per_condition: 2
epochs: 10
capacity_total: 12
h2_primary_units: [8, 4, 2]
default_primary_units: 8
embedding_dim: 16
optimizer: adam
median_pruning: {first_epoch: 20, every: 2}
space: {content_size: [1, 1], batch_size: [16, 16], l2: [0.0, 0.0], learning_rate: [0.01, 0.01]}
"""
FAMILY = "vp"


def _write_conversations(folder, scale: float = 0.06):
    """The synthetic IEMOCAP's labelled talkturns as three CSV files and a spec; speakers named by gender."""
    table = read_iemocap(generate("iemocap", folder / "iemocap", scale=scale, seed=11))
    table = table[table["label_emotion"].notna()]
    frame = pd.DataFrame(
        {
            "Utterance": table["text"],
            "Speaker": table["speaker_noun"],
            "Dialogue": table["dialogue"],
            "Order": table["turn_index"],
            "Start": table["start_s"],
            "End": table["end_s"],
            "Sad": table["tone_sadness"],
            "Angry": table["tone_anger"],
            "Happy": table["tone_happiness"],
            "Emotion": table["label_emotion"],
        }
    )
    data = folder / "data"
    data.mkdir()
    for split in ("train", "dev", "test"):
        frame[(table["split"] == split).to_numpy()].to_csv(data / f"{split}.csv", index=False)
    (folder / "spec.yaml").write_text(SPEC)
    return data, folder / "spec.yaml"


@pytest.fixture(scope="module")
def shared_speaker_study(tmp_path_factory):
    """A finished H1 study (10 epochs) on conversations whose speakers speak in every split."""
    base = tmp_path_factory.mktemp("predict-inputs")
    data, spec = _write_conversations(base)
    table = read_byo(spec, data)
    recipe = NarrativeRecipe(FAMILY, "")
    narratives = narrative_table(table, recipe)
    usable, _ = available_families(table)
    targets = build_auxiliary_targets(table, "emotion", AuxiliarySpec(tuple(usable)))
    part = PartitionData.build(
        "conv",
        "emotion",
        table,
        narratives.set_index("utterance_id")["model_input"],
        targets,
        mutual_information(targets),
        narrative=recipe,
    )
    (base / "profile.yaml").write_text(PROFILE)
    home = Home(base / "home")
    rows = run_hypothesis(part, load_profile(base / "profile.yaml"), "h1", home, log=lambda m: None)
    return base, data, spec, table, narratives, home, selected_trials(rows[rows["condition"] != "floor"])


def _stored_test_outputs(home: Home, condition: str, slot: int) -> pd.DataFrame:
    path = next((home.root / "studies" / "h1").rglob(f"*.predictions/**/{condition}-{slot}.outputs.parquet"))
    stored = pd.read_parquet(path)
    return stored[stored["split"] == "test"].set_index("utterance_id")


def test_the_test_file_alone_and_the_data_root_give_the_studys_inputs_and_outputs(
    shared_speaker_study, tmp_path, capsys
):
    base, data, spec, table, narratives, home, chosen = shared_speaker_study
    test_only = ordered_talkturns(table[table["split"] == "test"], "test")
    study_words = narratives.set_index("utterance_id")["narrative"]
    # the case: the test talkturns' own norms give other words than the study's table gave
    own = build_narratives(test_only, FAMILY).set_axis(test_only["utterance_id"])
    assert (own != study_words.loc[own.index]).sum() >= 3

    folder = home.model_dir("h1", "conv.emotion", "none")
    model = open_model(folder)
    assert model.card["inputs"]["speaker_norms"]["speakers"].keys() == {"woman", "man"}
    expected_inputs = narratives.set_index("utterance_id")["model_input"]
    alone = model_inputs(model, test_only).set_axis(test_only["utterance_id"])
    assert alone.equals(expected_inputs.loc[alone.index].astype(str))

    out_file, out_root = tmp_path / "file.parquet", tmp_path / "root.parquet"
    code, _, err = run_cli(capsys, "predict", folder, data / "test.csv", "--spec", spec, "--out", out_file)
    assert code == 0, err
    code, _, err = run_cli(capsys, "predict", folder, data, "--spec", spec, "--split", "test", "--out", out_root)
    assert code == 0, err
    by_file = pd.read_parquet(out_file).set_index("utterance_id")
    by_root = pd.read_parquet(out_root).set_index("utterance_id").loc[by_file.index]
    probabilities = [c for c in by_file.columns if c.startswith("probability_")]
    assert len(by_file) == len(test_only) and by_file["prediction"].equals(by_root["prediction"])
    # the same inputs; float32 batches padded to other lengths may differ in the last bits only
    assert (by_file[probabilities] - by_root[probabilities]).abs().to_numpy().max() < 1e-6

    stored = _stored_test_outputs(home, "none", chosen["none"]).loc[by_file.index]
    outputs = stored[[f"output_{k}" for k in range(len(probabilities))]].to_numpy()
    np.testing.assert_allclose(by_file[probabilities].to_numpy(), outputs, atol=1e-6, rtol=0)
    # a model that learned: its probabilities are far from uniform
    assert outputs.max(axis=1).mean() > 1 / len(probabilities) + 0.1


def test_a_speaker_the_study_never_saw_is_measured_against_the_pooled_norm_with_a_notice(
    shared_speaker_study, tmp_path, capsys
):
    base, data, spec, table, narratives, home, _ = shared_speaker_study
    frame = pd.read_csv(data / "test.csv")
    frame.loc[frame.index[:4], "Speaker"] = "Bob"
    new = tmp_path / "new.csv"
    frame.to_csv(new, index=False)
    folder = home.model_dir("h1", "conv.emotion", "none")
    code, _, err = run_cli(capsys, "predict", folder, new, "--spec", spec, "--out", tmp_path / "p.parquet")
    assert code == 0, err
    assert "4 talkturn(s) by 1 speaker(s) the study never saw ('Bob')" in err
    assert "pooled mean and sd" in err


def test_a_model_kept_before_norms_says_its_words_come_from_the_input(shared_speaker_study, tmp_path, capsys):
    import shutil

    from hanrock_core.learning.kept_model import SUMS, sha256_of

    base, data, spec, *_ = shared_speaker_study
    folder = shutil.copytree(shared_speaker_study[5].model_dir("h1", "conv.emotion", "none"), tmp_path / "old")
    card = json.loads((folder / "model.json").read_text())
    del card["inputs"]["speaker_norms"]
    (folder / "model.json").write_text(json.dumps(card))
    names = [line.split("  ")[1] for line in (folder / SUMS).read_text().splitlines()]
    (folder / SUMS).write_text("".join(f"{sha256_of(folder / name)}  {name}\n" for name in names))
    code, _, err = run_cli(
        capsys, "predict", folder, data / "test.csv", "--spec", spec, "--out", tmp_path / "p.parquet"
    )
    assert code == 0, err
    assert "kept before kept models carried their speaker norms" in err
