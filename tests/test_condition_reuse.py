"""A condition trained once: H4 and H3 reuse H1's complete studies of the same condition instead of
training them again, each hypothesis keeps its own table, and a study not yet complete is not reused."""

from __future__ import annotations

import optuna
import pytest

from hanrock_core.base.home import Home
from hanrock_core.base.results import query
from hanrock_core.learning.kept_model import open_card
from hanrock_core.study.condition_reuse import same_recipe
from hanrock_core.study.hypotheses import conditions
from hanrock_core.study.profiles import load_profile
from hanrock_core.study.search import run_hypothesis

from .test_search import TINY_PROFILE, _partition

COMPARED = ["trial", "dev_value", "test_value", "identity"]


def _profile(tmp_path, trials: int = 2, replicates: int = 1):
    path = tmp_path / f"p{trials}-{replicates}.yaml"
    path.write_text(TINY_PROFILE.format(trials=trials) + f"replicates: {replicates}\n")
    return load_profile(path)


def _trained(home: Home, hypothesis: str) -> dict[str, int]:
    """Condition -> how many trials this hypothesis's own Optuna studies hold."""
    url = f"sqlite:///{home.study_db(hypothesis, 'iemocap.emotion')}"
    counts = {}
    for summary in optuna.get_all_study_summaries(url):
        counts[summary.study_name.split("#")[0].rsplit(".", 1)[-1]] = summary.n_trials
    return counts


def _rows(db, hypothesis: str, condition: str):
    sql = "SELECT * FROM trials WHERE hypothesis = ? AND condition = ? ORDER BY trial"
    return query(db, sql, [hypothesis, condition])[COMPARED].reset_index(drop=True)


def test_the_recipe_says_which_conditions_are_the_same_training(tmp_path):
    profile = _profile(tmp_path)
    every = ("actions", "prosody", "historical", "future")
    h4 = {c.name: c for c in conditions("h4", profile, every)}
    lenders = [(h, c.name) for h, c in same_recipe("h4", h4["aphf"], profile, every)]
    assert lenders == [("h1", "aphf"), ("h3", "han_rock")]
    assert [(h, c.name) for h, c in same_recipe("h4", h4["none"], profile, every)] == [("h1", "none")]
    assert same_recipe("h4", h4["uncertainty"], profile, every) == []  # a learned weighting trains otherwise
    h2 = conditions("h2", profile, every)
    assert all(same_recipe("h2", c, profile, every) == [] for c in h2)  # H2 fixes P and A: no other does
    flat = conditions("h3", profile, every)[0]
    assert flat.name == "flat" and same_recipe("h3", flat, profile, every) == []


@pytest.fixture(scope="module")
def reused(tiny_iemocap_master, tmp_path_factory):
    """H1, then H4 and H3 on the same inputs; the lines each search logged."""
    root = tmp_path_factory.mktemp("reuse")
    profile = _profile(root)
    part = _partition(tiny_iemocap_master, "emotion")  # read only
    logs: dict[str, list[str]] = {}
    for hypothesis in ("h1", "h4", "h3"):
        logs[hypothesis] = []
        run_hypothesis(part, profile, hypothesis, Home(root), log=logs[hypothesis].append)
    return Home(root), logs


def test_h4_trains_only_the_conditions_h1_lacks_and_reports_h1s_trials_as_its_own(reused):
    home, logs = reused
    assert _trained(home, "h4") == {"uncertainty": 2, "gating": 2, "lookahead": 2, "auto": 2}
    assert set(_trained(home, "h1")) == {"none", "ap", "aphf"}
    said = "\n".join(logs["h4"])
    assert "h1's aphf" in said and "h1's none" in said and "none trained" in said
    assert "trial 0 epoch" not in "\n".join(m for m in logs["h4"] if " aphf " in m or " none " in m)
    db = home.results_db
    for condition in ("aphf", "none"):
        assert len(_rows(db, "h4", condition)) == 2
        assert _rows(db, "h4", condition).equals(_rows(db, "h1", condition)), condition
    ensembles = query(db, "SELECT hypothesis, condition, seeds, dev_value, test_value FROM ensembles")
    by = ensembles.set_index(["hypothesis", "condition"])
    assert by.loc[("h4", "aphf")].equals(by.loc[("h1", "aphf")])  # the same seeds, read where H1 wrote them
    h4 = query(db, "SELECT DISTINCT condition FROM trials WHERE hypothesis = 'h4'")["condition"]
    assert set(h4) == {"floor", "aphf", "none", "uncertainty", "gating", "lookahead", "auto"}  # H4's own table


def test_h3_reuses_h1s_aphf_under_its_own_name_and_keeps_its_own_model(reused):
    home, logs = reused
    assert _trained(home, "h3") == {"flat": 2}
    db = home.results_db
    assert _rows(db, "h3", "han_rock").equals(_rows(db, "h1", "aphf"))
    for hypothesis, condition in (("h3", "han_rock"), ("h4", "aphf"), ("h4", "none")):
        card = open_card(home.model_dir(hypothesis, "iemocap.emotion", condition))  # sums checked
        assert card["hypothesis"] == hypothesis and card["study"].startswith("h1.")
        assert card["ensemble"]["seeds"] == 2


def test_a_study_not_complete_is_not_reused(tiny_iemocap_master, tmp_path):
    """H1 trained with fewer slots (2) than the profile H4 runs with (3): H4 trains its own aphf and none."""
    part = _partition(tiny_iemocap_master, "emotion")
    run_hypothesis(part, _profile(tmp_path, trials=2), "h1", Home(tmp_path), log=lambda m: None)
    said: list[str] = []
    run_hypothesis(part, _profile(tmp_path, trials=3), "h4", Home(tmp_path), log=said.append)
    every = ("aphf", "none", "uncertainty", "gating", "lookahead", "auto")
    assert _trained(Home(tmp_path), "h4") == dict.fromkeys(every, 3)
    assert not any("reused" in m for m in said)
