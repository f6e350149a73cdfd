"""Seed ensembles: the selected trial and its replicates, their outputs averaged into one more result per
condition, from files every training writes (no training of its own)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis
from hanrock_core.study.seed_ensemble import average_outputs, ensemble_metrics

from .test_search import TINY_PROFILE, _partition


def _outputs(ids: list[str], split: str, values: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=[f"output_{k}" for k in range(values.shape[1])])
    frame.insert(0, "split", split)
    frame.insert(0, "utterance_id", ids)
    return frame


def test_averaging_is_per_talkturn_whatever_the_order_and_refuses_other_talkturns():
    a = _outputs(["u1", "u2"], "test", np.array([[0.9, 0.1], [0.2, 0.8]]))
    b = _outputs(["u2", "u1"], "test", np.array([[0.6, 0.4], [0.1, 0.9]]))  # the same talkturns, another order
    mean = average_outputs([a, b]).set_index("utterance_id")
    assert mean.loc["u1", ["output_0", "output_1"]].tolist() == pytest.approx([0.5, 0.5])
    assert mean.loc["u2", ["output_0", "output_1"]].tolist() == pytest.approx([0.4, 0.6])
    with pytest.raises(ValueError, match="same talkturns"):
        average_outputs([a, _outputs(["u1", "u3"], "test", np.ones((2, 2)))])


@pytest.fixture(scope="module")
def ensemble_study(tiny_iemocap_master, tmp_path_factory):
    """A tiny H3 study with 2 seed replicates a condition (3 seeds)."""
    root = tmp_path_factory.mktemp("ensemble")
    path = root / "p.yaml"
    path.write_text(TINY_PROFILE.format(trials=2) + "replicates: 2\n")
    part = _partition(tiny_iemocap_master, "emotion")  # read only
    run_hypothesis(part, load_profile(path), "h3", Home(root), log=lambda m: None)
    return part, root


def test_a_study_with_replicates_writes_each_conditions_ensemble_from_its_seeds_outputs(ensemble_study):
    """One `ensembles` row per searched condition (not the floor), averaging 3 seeds; recomputed from the
    outputs files it equals the stored row; and the selected trial's own outputs give its recorded test
    value, so the files hold what the metrics were computed from."""
    part, root = ensemble_study
    db = root / "results.duckdb"
    ensembles = query(db, "SELECT * FROM ensembles").set_index("condition")
    assert sorted(ensembles.index) == ["flat", "han_rock"]
    assert (ensembles["seeds"] == 3).all()
    trials = query(db, "SELECT * FROM selected_trials").set_index("condition")
    studies = root / "studies" / "h3"
    for condition, row in ensembles.iterrows():
        slot = int(row["trial"])
        folder = next(p for p in studies.iterdir() if p.name.endswith(".predictions"))
        own = pd.read_parquet(next(folder.rglob(f"{condition}-{slot}.outputs.parquet")))
        assert set(own["split"]) == {"dev", "test"}
        alone, _ = ensemble_metrics(part.data, own)
        assert alone["test"]["balanced_accuracy"] == pytest.approx(trials.loc[condition, "test_value"])
        assert alone["dev"]["balanced_accuracy"] == pytest.approx(trials.loc[condition, "dev_value"])
        replicate_folder = next(p for p in studies.iterdir() if p.name.endswith(".replicates"))
        seeds = [own] + [
            pd.read_parquet(f) for f in sorted(replicate_folder.rglob(f"{condition}-{slot}-*.outputs.parquet"))
        ]
        assert len(seeds) == 3
        again, predicted = ensemble_metrics(part.data, average_outputs(seeds))
        assert again["test"]["balanced_accuracy"] == pytest.approx(row["test_value"])
        assert again["dev"]["balanced_accuracy"] == pytest.approx(row["dev_value"])
        stored = query(
            db, "SELECT utterance_id, prediction FROM ensemble_predictions WHERE condition = ?", [condition]
        ).set_index("utterance_id")["prediction"]
        assert stored.sort_index().equals(predicted.set_index("utterance_id")["prediction"].astype(str).sort_index())
        probabilities = own[[c for c in own.columns if c.startswith("output_")]].sum(axis=1)
        assert probabilities.to_numpy() == pytest.approx(1.0, abs=1e-5)


def test_the_paper_views_show_the_ensemble_beside_the_single_model(ensemble_study):
    _, root = ensemble_study
    rows = query(root / "results.duckdb", "SELECT * FROM results_long WHERE condition <> 'floor'")
    assert (rows["ensemble_seeds"] == 3).all()
    for _, row in rows.iterrows():
        assert row["cell"].endswith(f" ens. {row['ensemble_test']:.3f}")
    floor = query(root / "results.duckdb", "SELECT * FROM results_long WHERE condition = 'floor'")
    assert floor["ensemble_test"].isna().all() and "ens." not in floor["cell"].item()


def test_the_kept_model_holds_its_seeds_and_predict_gives_the_reported_ensemble(
    ensemble_study, tiny_iemocap_master, tmp_path
):
    """`open_model(..., ensemble=True)` (`hanrock predict --ensemble`) on the test split gives the `ensembles`
    row's test value; without it, the selected trial's; a seed file changed by hand is refused."""
    from hanrock_core.base.errors import InputError
    from hanrock_core.learning.kept_model import open_model
    from hanrock_core.learning.prediction import predict_talkturns, scores
    from hanrock_core.reading.corpora.iemocap import read_iemocap

    part, root = ensemble_study
    db = root / "results.duckdb"
    ensembles = query(db, "SELECT * FROM ensembles").set_index("condition")
    selected = query(db, "SELECT * FROM selected_trials").set_index("condition")
    table = read_iemocap(tiny_iemocap_master)
    for condition in ensembles.index:
        folder = Home(root).model_dir("h3", part.key, condition)
        assert sorted(p.name for p in folder.glob("seed-*.pt")) == ["seed-1.pt", "seed-2.pt"]
        expected_values = {True: ensembles.loc[condition, "test_value"], False: selected.loc[condition, "test_value"]}
        for ensemble, expected in expected_values.items():
            model = open_model(folder, ensemble=ensemble)
            measured = scores(model, predict_talkturns(model, table, split="test"))
            assert measured["balanced_accuracy"].item() == pytest.approx(expected)
    copy = Path(shutil.copytree(Home(root).model_dir("h3", part.key, "flat"), tmp_path / "flat"))
    seed = copy / "seed-2.pt"  # a copy: the study's folder stays intact for the other tests
    seed.write_bytes(seed.read_bytes() + b"\0")
    with pytest.raises(InputError, match="seed-2.pt was changed"):
        open_model(seed.parent, ensemble=True)
    # a seed state cut short before the model was kept (its checksum taken on the cut file) is said to be one
    from hanrock_core.learning.kept_model import SUMS, sha256_of

    seed.write_bytes(seed.read_bytes()[:200])
    names = [line.split("  ")[1] for line in (copy / SUMS).read_text().splitlines()]
    (copy / SUMS).write_text("".join(f"{sha256_of(copy / name)}  {name}\n" for name in names))
    with pytest.raises(InputError, match="seed-2.pt is not a complete PyTorch state file .200 bytes"):
        open_model(copy, ensemble=True)


def test_one_rule_says_which_seeds_form_an_ensemble(tmp_path):
    """A replicate is a member when its outputs, state and row are all on disk; a missing one in the middle is
    skipped (not the end of the ensemble), by the reported ensemble and the kept model alike."""
    from hanrock_core.study.keeping import ensemble_states
    from hanrock_core.study.replicates import seed_members

    files = Home(tmp_path).trial_files("h1", "d.t", "0123456789ab")
    for k in (1, 2, 3):
        for path in (
            files.replicate_outputs("none", 0, k),
            files.replicate_state("none", 0, k),
            files.replicate_row("none", 0, k),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not (k == 2 and path.suffix == ".pt"):  # replicate 2 lacks its state
                path.write_bytes(b"")
    assert seed_members(files, "none", 0, 3) == ([1, 3], [2])
    import torch

    for k in (1, 3):
        torch.save({"w": torch.zeros(1)}, files.replicate_state("none", 0, k))
    said = []
    states = ensemble_states(files, "none", 0, 3, said.append)
    assert [p.name for p in states] == [files.replicate_state("none", 0, k).name for k in (1, 3)] and not said
