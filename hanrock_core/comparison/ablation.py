"""Ablation: what one change to a profile's defaults does to a model on a corpus, measured on dev.

The profile's middle configuration (calibration.typical_config) of the plain `none` condition is trained
with a few seeds, then again with one change at a time -- the content context (its size, speaker marks,
following talkturns), the narrative words, the vocabulary, early stopping, class weights, word vectors learnt
from the train text -- each with the same seeds.  A change is judged on **dev** only (mean over seeds and its
spread); test is recorded beside it and never used to choose.  Runs are kept as seed-replicate files under
`$HANROCK_HOME/ablation`, so an interrupted ablation trains only the missing runs.  `hanrock ablate` runs it;
docs/studies.md holds the measured tables and the profile choices they support.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.comparison.calibration import condition_weights, typical_config
from hanrock_core.preparation.corpus_vectors import corpus_vectors
from hanrock_core.preparation.narrative import NarrativeRecipe
from hanrock_core.preparation.pretrained_vectors import VectorSpec
from hanrock_core.study.hypotheses import conditions
from hanrock_core.study.partition_loading import load_partition
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import ReplicateJob, train_missing
from hanrock_core.study.study_identity import study_identity

Log = Callable[[str], None]
BASE_SEED = 20_261_206  # the ablation's seeds, apart from every study's and the calibration's
CONDITION = "none"  # the plain HAN: what every condition of a study shares


@dataclass(frozen=True)
class Change:
    """One departure from the profile's middle configuration."""

    name: str
    what: str  # in words, for the table
    config: dict = field(default_factory=dict)  # TrainConfig fields replaced
    family: str | None = None  # another narrative family (narrative.py)
    min_count: int | None = None  # the vocabulary's minimum train count (None: the profile's)
    vectors: str | None = None  # word vectors learnt from the train text: word2vec or fasttext
    unit_spread: bool = False  # the learnt vectors rescaled to sd 1


CHANGES = (
    Change("base", "the profile's middle configuration, condition none"),
    Change("content_0", "no content context (the talkturn alone)", config={"content_size": 0}),
    Change("content_3", "three talkturns of content context", config={"content_size": 3}),
    Change("verbatim", "verbatim talkturns: no narrative words (family v)", family="v"),
    Change("min_count_1", "every train word in the vocabulary", min_count=1),
    Change("min_count_2", "words seen once in train become unknown", min_count=2),
    Change(
        "patience_8",
        "early stopping waits 8 epochs (of up to 40), not the profile's",
        config={"patience": 8, "epochs": 40},
    ),
    Change(
        "speaker_context",
        "the content context marks which talkturns the sample's own speaker said",
        config={"speaker_context": True},
    ),
    Change(
        "content_after_1",
        "the window also holds the talkturn after the sample's (marked as the sample's own)",
        config={"content_after": 1},
    ),
    Change(
        "content_after_2",
        "the window also holds the two talkturns after the sample's (marked as the sample's own)",
        config={"content_after": 2},
    ),
    Change(
        "content_after_1_speakers",
        "content_after_1 and speaker_context together (the speakers marked relative to the sample's)",
        config={"content_after": 1, "speaker_context": True},
    ),
    Change(
        "word_dropout_0.3",
        "each embedded word's elements dropped with probability 0.3 (element-wise, not one mask per batch)",
        config={"word_dropout": 0.3},
    ),
    Change(
        "head_dropout_0.3",
        "the vector the primary head reads dropped element-wise at 0.3",
        config={"head_dropout": 0.3},
    ),
    Change(
        "dropout_0.3",
        "word_dropout_0.3 and head_dropout_0.3 together (as the plain classifier's two dropouts)",
        config={"word_dropout": 0.3, "head_dropout": 0.3},
    ),
    Change("class_weights", "balanced class weights n / (K n_c)", config={"class_weights": "balanced"}),
    Change("word2vec", "embeddings start from word2vec learnt on the train text", vectors="word2vec"),
    Change("fasttext", "embeddings start from fastText (subword pieces) learnt on the train text", vectors="fasttext"),
    Change("word2vec_sd1", "word2vec learnt on the train text, rescaled to sd 1", vectors="word2vec", unit_spread=True),
)
NAMES = tuple(c.name for c in CHANGES)


def change_named(name: str) -> Change:
    """The change called `name`, or an error listing them."""
    for change in CHANGES:
        if change.name == name:
            return change
    raise InputError(f"no ablation change named {name!r}", hint=f"choose from {', '.join(NAMES)}")


def _runs(jobs: list[ReplicateJob]) -> list[dict]:
    """The result rows the jobs wrote."""
    return [json.loads(j.file.read_text(encoding="utf-8")) for j in jobs]


def ablate(settings, key: str, profile: Profile, changes: list[Change], seeds: int, log: Log = print) -> pd.DataFrame:
    """One row per change and seed: dev and test values, best epoch and epochs run (trained or read back)."""
    dataset, _, task = key.partition(".")
    home: Home = settings.home
    rows = []
    for change in changes:
        recipe = settings.dataset(dataset).narratives
        if change.family:
            recipe = NarrativeRecipe(change.family, recipe.keep_punctuation)
        part = load_partition(
            settings, dataset, task, log=lambda _: None, recipe=recipe, min_count=change.min_count or profile.min_count
        )
        if change.vectors:
            spec = VectorSpec(None, learn=change.vectors, unit_spread=change.unit_spread)
            part.vectors = corpus_vectors(spec, part.data, profile.embedding_dim, profile.seed, home.word_vectors_cache)
            part.data.vectors = part.vectors.matrix
            log(f"{key} {change.name}: {part.vectors.describe()}")
        condition = next(c for c in conditions("h1", profile, part.available_families()) if c.name == CONDITION)
        config = replace(typical_config(profile, condition), **change.config)
        config.validate()
        files = home.ablation(key, f"{change.name}-{study_identity(part, profile).id}")
        weights = condition_weights(profile, part, condition)
        config = {**config.__dict__, "seed": BASE_SEED}
        jobs = [ReplicateJob.of(files, CONDITION, 0, k, config, weights, keep_state=False) for k in range(1, seeds + 1)]
        started = time.monotonic()
        train_missing(part.data, jobs, lambda line, change=change: log(f"{key} {change.name}: {line}"))
        for run in _runs(jobs):
            rows.append(
                {
                    "change": change.name,
                    "what": change.what,
                    "seed": run["seed"],
                    "dev": run["dev_value"],
                    "test": run["test_value"],
                    "best_epoch": run["best_epoch"],
                    "epochs_run": run["epochs_run"],
                }
            )
        log(f"{key} {change.name}: {seeds} seeds in {time.monotonic() - started:.0f} s")
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per change: seeds, dev mean and sd, the dev difference from `base` (same seeds), test recorded."""
    table = runs.groupby("change", sort=False).agg(
        seeds=("dev", "size"),
        dev=("dev", "mean"),
        dev_sd=("dev", "std"),
        test=("test", "mean"),
        test_sd=("test", "std"),
        best_epoch=("best_epoch", "mean"),
    )
    if "base" in table.index:
        base = runs[runs["change"] == "base"].set_index("seed")["dev"]
        table["dev_vs_base"] = [
            float(np.mean(g.set_index("seed")["dev"] - base.reindex(g["seed"]).to_numpy()))
            for _, g in runs.groupby("change", sort=False)
        ]
    return table.reset_index()


__all__ = ["CHANGES", "NAMES", "Change", "ablate", "change_named", "summary"]
