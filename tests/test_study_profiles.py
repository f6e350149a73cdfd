"""Hypotheses, conditions and study profiles."""

from __future__ import annotations

import pytest

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.auxiliary_target import PAPER_FAMILIES
from hanrock_core.study.hypotheses import comparisons, conditions
from hanrock_core.study.profiles import load_profile


def test_packaged_profiles():
    quick, paper = load_profile("quick"), load_profile("paper")
    assert paper.trials_per_condition == 30 and paper.epochs == 350 and paper.capacity_total == 257
    assert paper.h2_primary_units == (256, 192, 128, 64, 1) and paper.optimizer == "sgd"
    assert quick.trials_per_condition % 3 == 0 and quick.compile == "off"
    assert quick.sampler == "chunks" and quick.patience > 0 and quick.fusion_prior  # models that finish learning
    assert quick.trials_per_condition >= 6 and quick.replicates == 0  # the search test pairs slots; no seeds test
    assert paper.sampler == "shuffle" and not paper.patience and not paper.fusion_prior  # the paper's choices
    standard = load_profile("standard")
    assert standard.replicates == 4 and standard.space["content_size"] == [0, 2]


def test_conditions_and_comparisons():
    profile = load_profile("paper")
    h1 = conditions("h1", profile, PAPER_FAMILIES)  # a corpus with video and audio: the paper's H1
    assert [c.name for c in h1] == ["none", "ap", "aphf"] and h1[0].baseline and h1[0].families == ()
    assert h1[1].families == ("actions", "prosody") and len(h1[2].families) == 4
    every = conditions("h1", profile)  # every family available: the text lexicons alone and the labels alone too
    assert [c.name for c in every] == ["none", "ap", "aphf", "hf", "lex"] and len(every[2].families) == 6
    h2 = conditions("h2", profile)
    assert [(c.primary_units, c.aux_units) for c in h2] == [
        (256, 1),
        (192, 65),
        (128, 129),
        (64, 193),
        (1, 256),
        (256, 0),
    ]
    assert comparisons("h2", h2)[-1] == ("p256_a0", "p256")  # the "^" of Table 2
    assert [c.architecture for c in conditions("h3", profile)] == ["flat_mtl", "han_rock"]
    label_only = conditions("h1", profile, available=("historical", "future"))
    assert [c.name for c in label_only] == ["none", "aphf"] and label_only[1].families == ("historical", "future")
    with pytest.raises(InputError, match="unknown hypothesis"):
        conditions("h5", profile)


def test_profile_errors(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ntrials: 3\n")
    with pytest.raises(InputError, match="mine.yaml:2: unknown key 'trials'"):
        load_profile(path)
    path.write_text("name: mine\ntrials_per_condition: 1\n")
    with pytest.raises(InputError, match="must be at least 2"):
        load_profile(path)
    path.write_text("name: mine\ncapacity_total: 33\nh2_primary_units: [40]\n")
    with pytest.raises(InputError, match="between 1 and"):
        load_profile(path)
    with pytest.raises(InputError, match="no study profile"):
        load_profile("fastest")


def test_profile_choices_are_the_ones_training_accepts():
    """Every value the search space offers for a choice passes TrainConfig's check, and one more does not."""
    from hanrock_core.learning.search_space import CHOICES
    from hanrock_core.learning.train_config import TrainConfig

    for name, allowed in CHOICES.items():
        for value in allowed:
            TrainConfig(**{name: value}).validate()
        with pytest.raises(InputError, match=name):
            TrainConfig(**{name: "no-such-choice"}).validate()
