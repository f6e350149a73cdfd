"""H4's loss weightings and each auxiliary target's measured affinity, on a planted pure-noise target."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.learning.task_data import build_task_data
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import train
from hanrock_core.preparation.auxiliary_target import build_auxiliary_targets
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.reading.synthetic import generate
from hanrock_core.study.hypotheses import comparisons, conditions
from hanrock_core.study.profiles import load_profile

QUICK = dict(
    primary_units=16,
    aux_units=1,
    embedding_dim=32,
    learning_rate=2**-7,
    optimizer="adam",
    batch_size=32,
    content_size=2,
    epochs=8,
    sampler="chunks",
    fusion_prior=True,
    seed=3,
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """iemocap.activation's neighbour-label targets (which the generator makes informative) and a pure-noise
    column: standard normal draws, unrelated to any state of the corpus."""
    table = read_iemocap(generate("iemocap", tmp_path_factory.mktemp("w") / "i", scale=0.12, seed=5))
    inputs = narrative_table(table).set_index("utterance_id")["model_input"]
    targets = build_auxiliary_targets(table, "activation")
    data = build_task_data(table, inputs, targets)
    keep = [i for i, n in enumerate(data.aux_names) if targets.family[n] in ("historical", "future")]
    noise = torch.tensor(np.random.default_rng(1).standard_normal(len(data.primary)), dtype=torch.float32)
    return dataclasses.replace(
        data,
        aux=torch.cat([data.aux[:, keep], noise[:, None]], 1),
        aux_kinds=(*(data.aux_kinds[i] for i in keep), "regression"),
        aux_names=(*(data.aux_names[i] for i in keep), "noise"),
    )


def _weights(data):
    n = len(data.aux_names)
    return np.r_[0.8, np.full(n, 0.2 / n)]


def test_a_planted_noise_target_is_found_and_suppressed(planted):
    """The noise target: lowest affinity, smallest learned weight, gated least, dropped by `auto`."""
    fixed = train(planted, TrainConfig(**QUICK), _weights(planted)).weighting
    affinity = fixed["affinity"]
    assert min(affinity, key=affinity.get) == "noise"  # the lowest affinity of all targets
    assert abs(affinity["noise"]) < 0.02 < min(v for k, v in affinity.items() if k != "noise")

    learned = train(planted, TrainConfig(**QUICK, weighting="uncertainty"), _weights(planted)).weighting
    aux_weights = {k: v for k, v in learned["final_weights"].items() if k != "primary"}
    assert min(aux_weights, key=aux_weights.get) == "noise"  # the smallest learned weight

    gated = train(planted, TrainConfig(**QUICK, weighting="gating"), _weights(planted)).weighting["mean_gates"]
    assert min(gated, key=gated.get) == "noise"  # gated least, on average over the run

    auto = train(planted, TrainConfig(**QUICK, weighting="auto"), _weights(planted)).weighting
    assert "noise" not in auto["kept_targets"] and len(auto["kept_targets"]) >= 4  # dropped; the family kept
    assert auto["final_weights"]["noise"] == 0.0


@pytest.mark.parametrize("weighting", ["gating", "lookahead"])
def test_adaptive_weightings_train_and_record_their_weights(planted, weighting):
    result = train(planted, TrainConfig(**{**QUICK, "epochs": 3}, weighting=weighting), _weights(planted))
    recorded = result.weighting
    assert recorded["weighting"] == weighting and set(recorded["affinity"]) == set(planted.aux_names)
    weights = recorded["final_weights"]
    assert weights["primary"] == pytest.approx(0.8)
    assert weights != dict(zip(["primary", *planted.aux_names], _weights(planted)))  # they moved while training
    assert np.isfinite(result.dev["mae"])


def test_an_adaptive_weighting_needs_hanrock_auxiliary_vectors(planted):
    with pytest.raises(InputError, match="auxiliary talkturn vectors"):
        train(planted, TrainConfig(**{**QUICK, "architecture": "flat_mtl"}, weighting="gating"), _weights(planted))
    with pytest.raises(InputError, match="weighting 'softmax' is not one of"):
        train(planted, TrainConfig(**QUICK, weighting="softmax"), _weights(planted))


def test_h4_conditions_share_the_aphf_model_and_differ_in_the_weighting():
    profile = load_profile("quick")
    conds = {c.name: c for c in conditions("h4", profile)}
    assert list(conds) == ["aphf", "none", "uncertainty", "gating", "lookahead", "auto"]
    assert conds["aphf"].baseline and conds["aphf"].weighting == "fixed"
    for name in ("uncertainty", "gating", "lookahead", "auto"):
        assert conds[name].weighting == name
        assert (conds[name].architecture, conds[name].families) == (conds["aphf"].architecture, conds["aphf"].families)
    assert comparisons("h4", list(conds.values())) == [
        ("aphf", "uncertainty"),
        ("aphf", "gating"),
        ("aphf", "lookahead"),
        ("aphf", "auto"),
        ("none", "auto"),
    ]
    # the paper's hypotheses are unchanged: every condition of H1-H3 keeps the fixed weights
    assert all(c.weighting == "fixed" for h in ("h1", "h2", "h3") for c in conditions(h, profile))


def weightings_missing_from_docs(text: str, names) -> list[str]:
    """Registered weightings the H4 section of docs/studies.md has no table row for."""
    section = text[text.index("## H4: learned loss weightings") :]
    section = section[: section.index("\n## ", 4)]
    return [name for name in names if name != "fixed" and f"\n| `{name}` |" not in section]


def test_a_weighting_is_one_class_and_one_registry_entry(monkeypatch, tmp_path):
    """Registered, a new weighting trains, is an H4 condition faced with the fixed one, shows in H4's table;
    the docs test names it until docs/studies.md has its row."""
    from pathlib import Path

    import pandas as pd

    from hanrock_core.base.results import ensure_schema, query
    from hanrock_core.learning import loss_weighting
    from hanrock_core.learning.loss_weighting import WEIGHTINGS, Weighting

    from .helpers import write_trials

    class Halved(Weighting):
        """Every auxiliary loss at half its trial weight."""

        name = "halved"

        def current_weights(self):
            return torch.cat([self.weights[:1], self.weights[1:] / 2])

    docs = (Path(__file__).resolve().parents[1] / "docs" / "studies.md").read_text(encoding="utf-8")
    assert weightings_missing_from_docs(docs, WEIGHTINGS) == []  # every registered one is documented
    monkeypatch.setitem(loss_weighting.WEIGHTINGS, "halved", Halved)
    assert weightings_missing_from_docs(docs, loss_weighting.WEIGHTINGS) == ["halved"]

    # the search: H4 has the condition, compared with the fixed weights
    profile = load_profile("quick")
    h4 = conditions("h4", profile)
    assert [c.weighting for c in h4 if c.name == "halved"] == ["halved"]
    assert ("aphf", "halved") in comparisons("h4", h4)
    TrainConfig(weighting="halved").validate()
    made = loss_weighting.make_weighting(
        "halved", torch.ones(3), model=dataclasses.make_dataclass("M", [("rock", bool)])(True)
    )
    assert isinstance(made, Halved) and made.current_weights().tolist() == [1.0, 0.5, 0.5]

    # the H4 table: a row for it, between the baseline and `none`, with no change to the views
    db = tmp_path / "r.duckdb"
    ensure_schema(db)
    key = {"hypothesis": "h4", "dataset": "iemocap", "task": "emotion"}
    rows = [
        {**key, "condition": c.name, "trial": 0, "state": "complete", "metric": "balanced_accuracy"}
        | {"dev_value": 0.7, "test_value": 0.7}
        for c in h4
    ]
    write_trials(db, key, pd.DataFrame(rows))
    shown = list(query(db, "SELECT * FROM table_h4_weighting")["Weighting"])
    assert shown[0] == "aphf, fixed (Baseline)" and "halved" in shown and shown.index("halved") < shown.index("None")
