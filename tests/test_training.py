"""The training engine on tiny synthetic corpora: learning, config errors, NaN, checkpoints, samplers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.learning.batching import batches, distinct_talkturns
from hanrock_core.learning.checkpoint import load_checkpoint
from hanrock_core.learning.task_data import build_task_data
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import TrainingDiverged, make_model, train
from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.reading.synthetic import generate

QUICK = dict(
    primary_units=16,
    aux_units=2,
    embedding_dim=32,
    learning_rate=2**-7,
    optimizer="adam",
    batch_size=32,
    content_size=3,
    epochs=6,
    dropout=0.05,
    recurrent_dropout=0.05,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    table = read_iemocap(generate("iemocap", tmp_path_factory.mktemp("t") / "i", scale=0.12, seed=5))
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    return table, inputs


def _data(corpus, task):
    table, inputs = corpus
    return build_task_data(table, inputs, build_auxiliary_targets(table, task))


def _weights(data, primary=0.8):
    n = len(data.aux_names)
    return np.r_[primary, np.full(n, (1 - primary) / n)]


@pytest.mark.parametrize("architecture", ["han", "flat_mtl", "han_rock"])
def test_every_architecture_beats_a_constant_classifier(corpus, architecture):
    data = _data(corpus, "emotion")
    result = train(data, TrainConfig(architecture=architecture, **QUICK), _weights(data))
    assert result.dev["balanced_accuracy"] > 0.40  # a constant predictor scores 0.25
    assert len(result.history) == 6 and 1 <= result.best_epoch <= 6
    assert {"accuracy", "macro_f1", "weighted_f1", "f1_sad"} <= set(result.test)
    assert set(result.test_predictions["prediction"]) <= {"angry", "happy", "neutral", "sad"}


@pytest.mark.parametrize("architecture", ["flat_mtl", "han_rock"])
def test_regression_beats_the_median(corpus, architecture):
    data = _data(corpus, "valence")
    dev = data.labelled("dev")
    constant = np.abs(data.primary[dev].numpy() - np.median(data.primary[data.labelled("train")].numpy())).mean()
    result = train(data, TrainConfig(architecture=architecture, **QUICK), _weights(data))
    assert result.dev["mae"] < constant - 0.1


def test_same_config_same_results(corpus):
    data = _data(corpus, "activation")
    cfg = TrainConfig(**{**QUICK, "epochs": 2})
    a, b = train(data, cfg, _weights(data)), train(data, cfg, _weights(data))
    assert a.history == b.history


@pytest.mark.parametrize(
    "change, message",
    [
        ({"learning_rate": 0.5}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"content_size": -1}, "content_size"),
        ({"capacity_total": 257}, "P \\+ A = 18, but the study demands 257"),
        ({"dropout": 0.9}, "dropout"),
        ({"l2": 0.7}, "l2"),
        ({"sampler": "random"}, "sampler"),
    ],
)
def test_bad_config_fails_before_training(corpus, change, message):
    data = _data(corpus, "emotion")
    with pytest.raises(InputError, match=message):
        train(data, TrainConfig(**{**QUICK, **change}), _weights(data))


def test_nan_loss_stops_the_trial_with_a_message(corpus):
    data = _data(corpus, "valence")
    data.aux[:, 0] = float("inf")  # a poisoned auxiliary target
    with pytest.raises(TrainingDiverged, match="the loss became .* at epoch 1, step 1"):
        train(data, TrainConfig(**QUICK), _weights(data))


def test_missing_targets_are_masked_not_nan(corpus):
    data = _data(corpus, "valence")
    data.aux[::2, :] = float("nan")
    result = train(data, TrainConfig(**{**QUICK, "epochs": 1}), _weights(data))
    assert np.isfinite(result.history[0]["train_loss"])


def test_checkpoint_round_trip_and_corruption(corpus, tmp_path):
    data = _data(corpus, "emotion")
    path = tmp_path / "best.pt"
    result = train(data, TrainConfig(**{**QUICK, "epochs": 1}), _weights(data), checkpoint=path)
    state = load_checkpoint(path)
    assert state.keys() == result.state_dict.keys()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="checkpoint cannot be read"):
        load_checkpoint(path)


def test_samplers(corpus):
    data = _data(corpus, "emotion")
    rows = data.labelled("train")
    windows = data.windows(18)
    rng = np.random.default_rng(0)
    dialogue = batches(data, rows, 43, "dialogue", rng)
    shuffled = batches(data, rows, 43, "shuffle", rng)
    chunks = batches(data, rows, 43, "chunks", rng)
    assert (
        sorted(np.concatenate(dialogue))
        == sorted(rows)
        == sorted(np.concatenate(shuffled))
        == sorted(np.concatenate(chunks))
    )
    distinct = lambda bs: np.mean([len(distinct_talkturns(data, windows, b, "cpu")[1]) for b in bs])  # noqa: E731
    assert distinct(dialogue) < 0.5 * distinct(shuffled)  # windows of one dialogue share their talkturns
    assert distinct(dialogue) < distinct(chunks) < distinct(shuffled)
    dialogues = lambda bs: np.mean([len(np.unique(data.dialogue_codes[b])) for b in bs])  # noqa: E731
    assert dialogues(chunks) > 2 * dialogues(dialogue)  # a chunked batch mixes many conversations
    order = np.concatenate(chunks)  # stretches of up to 4 consecutive talkturns of one dialogue
    stretch = data.dialogue_codes[order]
    runs = np.diff(np.r_[0, np.flatnonzero(np.diff(stretch) != 0) + 1, len(order)])
    assert np.median(runs) <= 4


def test_the_torch_recurrence_trains_the_same_model(corpus):
    """gru: torch (nn.GRU on packed sequences) and gru: fused give the same training run, dropout included."""
    data = _data(corpus, "emotion")
    runs = {
        gru: train(data, TrainConfig(**{**QUICK, "epochs": 2, "gru": gru}), _weights(data))
        for gru in ("fused", "torch")
    }
    fused, plain = runs["fused"], runs["torch"]
    for a, b in zip(fused.history, plain.history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
    for name, value in fused.state_dict.items():
        torch.testing.assert_close(plain.state_dict[name], value, atol=1e-4, rtol=1e-3, msg=name)
    with pytest.raises(InputError, match=r"gru 'cudnn' is not one of \['auto', 'fused', 'torch'\]"):
        TrainConfig(gru="cudnn").validate()


def test_bench_prints_engine_figures_without_the_reference(tmp_path):
    from hanrock_core.checks.bench import report, run

    figures = run(reference=tmp_path / "absent.py", steps=1, epoch_talkturns=150, compile="off", device="cpu")
    assert figures["device"] == "cpu" and figures["gpu"] is None and figures["gru"] == "fused"
    assert set(figures["backends"]) == {"fused", "torch"} and all(
        f["engine_talkturns_per_s"] > 0 for f in figures["backends"].values()
    )
    assert figures["engine_talkturns_per_s"] == figures["backends"]["fused"]["engine_talkturns_per_s"]
    assert "engine, gru torch:" in report(figures)
    assert figures["reference_talkturns_per_s"] is None and figures["speedup"] is None
    assert figures["engine_talkturns_per_s"] > 0 and figures["gflops"] > 0 and figures["gemm_gflops"] > 0
    assert figures["content_ratio"] == pytest.approx(
        figures["epoch_s_content30"] / figures["epoch_s_content1"], rel=0.02
    )
    assert "reference: not found" in report(figures)


def test_any_number_of_classes(corpus):
    """Neighbour-label heads have one output per class of the dataset plus "no label" (7 + 1 here)."""
    table, inputs = corpus
    rng = np.random.default_rng(0)
    relabelled = table.assign(label_emotion=pd.array(rng.choice(list("abcdefg"), len(table)), dtype="string"))
    data = build_task_data(relabelled, inputs, build_auxiliary_targets(relabelled, "emotion"))
    result = train(data, TrainConfig(**{**QUICK, "epochs": 1}), _weights(data))
    assert len(data.classes) == 7 and make_model(data, TrainConfig(**QUICK)).aux_heads.weight.shape[-1] == 8
    assert np.isfinite(result.history[0]["train_loss"])


def test_the_dataset_metric_chooses_the_epoch(corpus):
    table, inputs = corpus
    data = build_task_data(table, inputs, build_auxiliary_targets(table, "emotion"), metric="weighted_f1")
    result = train(data, TrainConfig(**{**QUICK, "epochs": 4}), _weights(data))
    curve = [h["dev_weighted_f1"] for h in result.history]
    assert result.best_epoch == int(np.argmax(curve)) + 1 and result.dev["weighted_f1"] == max(curve)
    with pytest.raises(ValueError, match="does not apply to a classification task"):
        _ = build_task_data(table, inputs, build_auxiliary_targets(table, "emotion"), metric="mae").selection


def test_word_vectors_start_the_embedding_and_can_be_frozen(corpus, tmp_path):
    import torch

    from hanrock_core.preparation.pretrained_vectors import VectorSpec, load_vectors

    data = _data(corpus, "activation")
    word = data.vocab.words[2]  # the most frequent train word
    path = tmp_path / "v.txt"
    path.write_text(f"{word} " + " ".join(["0.25"] * 32) + "\n")
    vectors = load_vectors(VectorSpec(path), data.vocab, data.train_token_counts())
    assert 0 < vectors.token_coverage < 1 and vectors.vocabulary_coverage == pytest.approx(1 / (len(data.vocab) - 2))
    data.vectors = vectors.matrix
    model = make_model(data, TrainConfig(**{**QUICK, "embedding_trainable": False}))
    assert torch.equal(model.embedding.weight[2], torch.full((32,), 0.25)) and not model.embedding.weight.requires_grad
    before = model.embedding.weight.clone()
    result = train(data, TrainConfig(**{**QUICK, "epochs": 1, "embedding_trainable": False}), _weights(data))
    assert torch.equal(result.state_dict["embedding.weight"], before)  # frozen vectors stay as the file has them
    with pytest.raises(InputError, match="do not fit the embedding"):
        make_model(data, TrainConfig(**{**QUICK, "embedding_dim": 16}))


def test_balanced_class_weights_weigh_rare_classes_up(corpus):
    from hanrock_core.learning.training import balanced_class_weights

    data = _data(corpus, "emotion")
    rows = data.labelled("train")
    weights = balanced_class_weights(data, rows)
    counts = np.bincount(data.primary[rows].numpy(), minlength=len(data.classes))
    assert np.allclose(weights.numpy() * counts, len(rows) / len(data.classes))
    assert train(data, TrainConfig(**{**QUICK, "epochs": 1, "class_weights": "balanced"}), _weights(data)).history


def test_patience_stops_a_run_that_stopped_improving_and_keeps_its_best_epoch(corpus):
    data = _data(corpus, "activation")
    config = {**QUICK, "epochs": 12, "learning_rate": 2**-5}
    full = train(data, TrainConfig(**config), _weights(data))
    assert full.stopped == "epochs" and len(full.history) == 12
    scores = [h["dev_mae"] for h in full.history]
    best_by = [int(np.argmin(scores[:e])) + 1 for e in range(1, 13)]  # best epoch among the first e
    stop = next((e for e in range(1, 12) if e - best_by[e - 1] >= 2), 12)  # 2 epochs without a better one
    assert stop < 12, scores  # this run does stall
    patient = train(data, TrainConfig(**config, patience=2), _weights(data))
    assert len(patient.history) == stop and patient.stopped == ("patience" if stop < 12 else "epochs")
    assert [h["dev_mae"] for h in patient.history] == scores[:stop]  # the same run (same seed), cut short
    assert patient.best_epoch == best_by[stop - 1]


def test_learning_rate_schedules(corpus):
    from hanrock_core.learning.training import LearningRate

    steps = 10
    warm = LearningRate(TrainConfig(learning_rate=0.01, epochs=5, warmup_epochs=1, lr_schedule="cosine"), steps)
    rates = [warm.at(s) for s in range(50)]
    assert rates[0] == pytest.approx(0.001) and rates[9] == pytest.approx(0.01)  # linear warm-up over epoch 1
    assert rates[10] == pytest.approx(0.01) and rates[49] < 0.0003  # then cosine decay towards 0
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    plateau = LearningRate(TrainConfig(learning_rate=0.01, lr_schedule="plateau"), steps)
    for improved in (True, False, False):
        plateau.epoch_end(improved)
    assert plateau.at(0) == pytest.approx(0.005)  # halved after 2 epochs without a better dev metric
    constant = LearningRate(TrainConfig(learning_rate=0.01), steps)
    constant.epoch_end(False), constant.epoch_end(False)
    assert constant.at(123) == 0.01
    data = _data(corpus, "activation")
    run = train(
        data, TrainConfig(**{**QUICK, "epochs": 3, "lr_schedule": "cosine", "warmup_epochs": 1}), _weights(data)
    )
    assert run.history[0]["lr"] == pytest.approx(QUICK["learning_rate"])  # the last step of the warm-up epoch
    assert run.history[2]["lr"] < run.history[1]["lr"] < QUICK["learning_rate"]
