"""Run config of the pipeline's steps: the same classes for an asset and for the study jobs' op,
so the launchpad offers the same fields either way.  (The narrative recipe is a resource,
`narratives`, so that one run-config shape sets it for the asset and the jobs alike.)"""

from __future__ import annotations

from enum import Enum

import dagster as dg
from pydantic import Field


class Family(str, Enum):
    """The auxiliary families: the paper's and the text lexicons' (an enum, so Dagster rejects a typo before the
    run starts)."""

    actions = "actions"
    prosody = "prosody"
    historical = "historical"
    future = "future"
    lexicon = "lexicon"
    lexicon_next = "lexicon_next"


class AuxiliaryConfig(dg.Config):
    families: list[Family] | None = Field(
        None,
        description="auxiliary families to build: actions, prosody, historical, future, lexicon, lexicon_next "
        "(unset: the paper's four, and the lexicon families too where the corpus has no facial actions or voice tone)",
    )
    extra: dict[str, list[str]] = Field({}, description="your own families: name -> numeric talkturn-table columns")
    mi_seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of scikit-learn's mutual information estimate")


class DatasetSelection(dg.Config):
    datasets: list[str] = Field([], description="datasets this run covers (empty: every configured dataset)")


class TaskSelection(dg.Config):
    tasks: list[str] = Field(
        [], description="dataset.task partitions this run covers, e.g. iemocap.emotion (empty: every task)"
    )


class AttentionReportConfig(dg.Config):
    samples: int = Field(
        8, ge=1, le=1000, description="test talkturns shown, spread over the classes (or value quartiles)"
    )
    seed: int = Field(
        0, ge=0, le=2**32 - 1, description="seed of the sample (and of training when no study trial sets it)"
    )
    hypothesis: str = Field("h1", description="the study whose kept model is the MTL model")
    condition: str = Field("aphf", description="the condition whose kept (selected on dev) model is the MTL model")
