"""The training data of one dataset x primary task partition, as every study step sees it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from hanrock_core.learning.task_data import TaskData, build_task_data
from hanrock_core.preparation.auxiliary_target import AuxiliaryTargets
from hanrock_core.preparation.narrative import NarrativeRecipe, SpeakerNorms, norms_for
from hanrock_core.preparation.pretrained_vectors import Vectors


@dataclass
class PartitionData:
    """Everything one dataset.task partition trains on."""

    dataset: str
    task: str
    data: TaskData
    mi: pd.Series  # auxiliary task -> MI
    family: dict[str, str]  # auxiliary task -> family
    vectors: Vectors | None = None  # pretrained word vectors in use, with their coverage
    narrative: NarrativeRecipe = NarrativeRecipe()  # how the model inputs were built
    norms: SpeakerNorms | None = None  # what the narratives' prosody words are relative to (kept models carry it)

    @property
    def key(self) -> str:
        """`dataset.task`."""
        return f"{self.dataset}.{self.task}"

    @classmethod
    def build(
        cls,
        dataset: str,
        task: str,
        table: pd.DataFrame,
        model_inputs: pd.Series,
        targets: AuxiliaryTargets,
        mi: pd.DataFrame,
        metric: str | None = None,
        narrative: NarrativeRecipe = NarrativeRecipe(),
        min_count: int = 1,
    ) -> PartitionData:
        return cls(
            dataset,
            task,
            build_task_data(table, model_inputs, targets, metric=metric, min_count=min_count),
            mi.set_index("task")["mi"].reindex(targets.tasks).fillna(0.0),
            dict(targets.family),
            narrative=narrative,
            norms=norms_for(table, narrative.family),
        )

    def available_families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.family.values()))


__all__ = ["PartitionData"]
