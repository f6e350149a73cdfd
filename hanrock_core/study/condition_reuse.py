"""A condition trained once: a hypothesis reuses another hypothesis's study of the same condition.

H4's `aphf` and `none` are H1's `aphf` and `none`, and H3's `han_rock` is H1's `aphf`: the same recipe
(`Condition.recipe`), the same slots (slot k has the same configuration and seed in every study of a
profile) and, on the same inputs, the same identity, so their trials are the same trials.  Before a search
trains a condition, it looks for another hypothesis's study of that recipe and this run's identity that is
complete: every slot the profile asks for finished, and every seed replicate of its selected trial done.
Such a study is read, never written: its trials become this hypothesis's rows (each hypothesis keeps its
own table), its prediction and replicate files are read where the lender wrote them
(`TrialFiles.lending`), and the kept model is written from the lender's state, or from the lender's kept
model when its search is over.  A study still training (another run holds it) is not complete, so the
condition is trained here as before: reuse never waits and never writes into another hypothesis's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd

from hanrock_core.base.home import Home, TrialFiles
from hanrock_core.study.hypotheses import HYPOTHESES, Condition, conditions
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import replicate_jobs
from hanrock_core.study.study_identity import StudyIdentity
from hanrock_core.study.study_storage import open_storage, slot_trials, storage_url, study_name
from hanrock_core.study.trial_rows import searched_rows


@dataclass(frozen=True)
class Lender:
    """Another hypothesis's complete study of a condition's recipe, read in place of training it."""

    hypothesis: str
    condition: str  # its name in that hypothesis
    study: optuna.Study
    files: TrialFiles
    kept_model: Path  # where that hypothesis keeps the condition's model (written when its search ended)

    def describe(self) -> str:
        return f"{self.hypothesis}'s {self.condition} ({self.study.study_name})"


def same_recipe(
    hypothesis: str, condition: Condition, profile: Profile, available: tuple[str, ...]
) -> list[tuple[str, Condition]]:
    """Other hypotheses' conditions with `condition`'s recipe on this data, in hypothesis order."""
    return [
        (other, c)
        for other in HYPOTHESES
        if other != hypothesis
        for c in conditions(other, profile, available)
        if c.recipe == condition.recipe
    ]


def find_lenders(
    part: PartitionData,
    profile: Profile,
    hypothesis: str,
    identity: StudyIdentity,
    home: Home,
    configured_url: str | None,
) -> dict[str, Lender]:
    """Condition name -> the first complete study of its recipe in another hypothesis, for the conditions
    that have one."""
    lenders: dict[str, Lender] = {}
    for condition in conditions(hypothesis, profile, part.available_families()):
        for other, there in same_recipe(hypothesis, condition, profile, part.available_families()):
            study = _stored_study(part, other, there, identity, home, configured_url)
            if study is None:
                continue
            files = home.trial_files(other, part.key, identity.id)
            if _complete(part, other, there, study, profile, files):
                lenders[condition.name] = Lender(
                    other, there.name, study, files, home.model_dir(other, part.key, there.name)
                )
                break
    return lenders


def _stored_study(
    part: PartitionData,
    hypothesis: str,
    condition: Condition,
    identity: StudyIdentity,
    home: Home,
    configured_url: str | None,
) -> optuna.Study | None:
    """The study of `hypothesis`'s `condition` on these inputs, when one is stored (nothing is created)."""
    url = storage_url(home, hypothesis, part.key, configured_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    name = study_name(part, hypothesis, condition, identity)
    storage = open_storage(url)
    if name not in {s.study_name for s in storage.get_all_studies()}:
        return None
    return optuna.load_study(study_name=name, storage=storage)


def _complete(
    part: PartitionData,
    hypothesis: str,
    condition: Condition,
    study: optuna.Study,
    profile: Profile,
    files: TrialFiles,
) -> bool:
    """Every slot of the profile finished and every seed replicate of the selected trial done: nothing
    would be trained or written to use it (the lender's run trains replicates after its last slot)."""
    if len(slot_trials(study, profile.trials_per_condition)) < profile.trials_per_condition:
        return False
    rows = pd.DataFrame(searched_rows(part, hypothesis, [condition], {condition.name: study}, profile, {}))
    jobs = replicate_jobs({condition.name: study}, rows, profile.replicates, files)
    return all(job.done for job in jobs)


def lent_files(files: TrialFiles, lenders: dict[str, Lender]) -> TrialFiles:
    """A search's trial files with each borrowed condition's read where its lender wrote them."""
    for name, lender in lenders.items():
        files = files.lending(name, lender.files, lender.condition)
    return files


__all__ = ["Lender", "find_lenders", "lent_files", "same_recipe"]
