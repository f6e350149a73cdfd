"""Random search with median stopping (appendix A.3) for every condition of a hypothesis on one
partition: the studies of this run's inputs are opened (study_storage.py), their missing trials run
in the step's worker processes (worker_pool.py, objective.py), then the floor, the result rows
(trial_rows.py) and the kept models (keeping.py)."""

from __future__ import annotations

import errno
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home, TrialFiles
from hanrock_core.learning.floor import CONDITION as FLOOR
from hanrock_core.learning.task_data import with_min_count
from hanrock_core.preparation.corpus_vectors import corpus_vectors
from hanrock_core.preparation.pretrained_vectors import Vectors, load_vectors
from hanrock_core.preparation.settings import check_data_directory
from hanrock_core.study.condition_reuse import Lender, find_lenders, lent_files
from hanrock_core.study.hypotheses import Condition, conditions
from hanrock_core.study.keeping import keep_selected_models
from hanrock_core.study.objective import Objective, run_trials
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.profiles import Profile
from hanrock_core.study.replicates import ReplicateJob, replicate_jobs, train_missing
from hanrock_core.study.retrying_storage import SERVER_OUTAGE_S, connection_error
from hanrock_core.study.study_health import unseen_classes
from hanrock_core.study.study_identity import StudyIdentity, study_identity
from hanrock_core.study.study_storage import (
    InputsCheck,
    check_inputs,
    claiming_trials,
    open_condition,
    open_storage,
    partition_held,
    study_base,
    without_password,
)
from hanrock_core.study.study_storage import storage_url as storage_url_of
from hanrock_core.study.trial_rows import partition_floor, searched_rows, write_results
from hanrock_core.study.worker_pool import StepWaiting, run_in_workers, run_replicates_in_workers, trial_workers

Log = Callable[[str], None]


@dataclass
class Search:
    """One hypothesis on one partition: its inputs, where its studies live, and what it has opened."""

    part: PartitionData
    profile: Profile
    hypothesis: str
    home: Home
    identity: StudyIdentity
    url: str
    files: TrialFiles
    conditions: list[Condition]
    log: Log
    lenders: dict[str, Lender] = field(default_factory=dict)  # conditions another hypothesis's study trained

    def open_studies(self, on_changed_inputs: str) -> tuple[InputsCheck, dict[str, tuple[optuna.Study, int]]]:
        """Compare the inputs with the stored studies, then open (or create) each condition's study."""
        storage = open_storage(self.url)
        bases = [study_base(self.part, self.hypothesis, c) for c in self.conditions]
        inputs = check_inputs(storage, bases, self.identity, on_changed_inputs)
        self.log(
            f"{self.hypothesis} {self.part.key}: {inputs.describe()}"
            + (" (hanrock results superseded lists the old ones)" if inputs.previous else "")
        )
        opened = {}
        for c in self.conditions:
            lender = self.lenders.get(c.name)
            if lender is not None:  # read, never written (condition_reuse.py)
                self.log(
                    f"{self.hypothesis} {self.part.key} {c.name}: {lender.describe()} is complete on these inputs: "
                    f"its {self.profile.trials_per_condition} trials and seed replicates are reused, none trained"
                )
                opened[c.name] = (lender.study, 0)
            else:
                opened[c.name] = open_condition(
                    self.part, self.profile, self.hypothesis, c, self.identity, storage, self.log
                )
        return inputs, opened

    def run_trials(self, opened: dict[str, tuple[optuna.Study, int]], workers: int, threads: int | None) -> None:
        """The missing trials of every condition: in `workers` processes, or here one after another."""
        jobs = [c for c in self.conditions for _ in range(opened[c.name][1])]
        if workers > 1 and len(jobs) > 1:
            run_in_workers(
                jobs,
                workers,
                self.part,
                self.profile,
                self.hypothesis,
                self.identity,
                self.url,
                self.files,
                threads,
                self.log,
            )
            return
        for c in self.conditions:
            study, remaining = opened[c.name]
            if remaining:
                objective = Objective(self.part, self.profile, self.hypothesis, c, self.files, self.log)
                run_trials(study, objective, remaining, claim=lambda: claiming_trials(self.url))

    def replicate_jobs(self, studies: dict[str, optuna.Study]) -> list[ReplicateJob]:
        """Every seed replicate of each condition's selected trial (built once a search: what trains them and
        what writes their rows and ensembles read the same list)."""
        searched = pd.DataFrame(searched_rows(self.part, self.hypothesis, self.conditions, studies, self.profile, {}))
        return replicate_jobs(studies, searched, self.profile.replicates, self.files)

    def run_replicates(self, jobs: list[ReplicateJob], workers: int, threads: int | None) -> None:
        """The seed replicates among `jobs` that no run has trained yet."""
        pending = [j for j in jobs if not j.done]
        if workers > 1 and len(pending) > 1:
            run_replicates_in_workers(pending, workers, self.part, threads, self.log)
        else:
            train_missing(self.part.data, pending, self.log)


def _workers_wanted(jobs: int, log: Log) -> int:
    """A daemonic process (a Celery worker's pool) may not start processes of its own: one worker then."""
    if jobs > 1 and multiprocessing.current_process().daemon:
        log(
            "this step runs in a daemonic process (a Celery worker's pool): its trials run one at a time in it; "
            "start more Celery workers for more parallel steps"
        )
        return 1
    return jobs


def run_hypothesis(
    part: PartitionData,
    profile: Profile,
    hypothesis: str,
    home: Home,
    log: Log = print,
    storage_url: str | None = None,
    threads: int | None = None,
    announced: StepWaiting | None = None,
    on_changed_inputs: str = "new_study",
    owner: str = "a run",
) -> pd.DataFrame:
    """Search every condition of `hypothesis` on one partition, fit its bag-of-words floor, write the rows.

    The studies are those of this run's inputs (its identity); studies of other inputs are never
    resumed (`on_changed_inputs`: start new ones, or refuse).  The remaining trials of all
    conditions run in as many worker processes as the machine has free worker slots
    (worker_pool.py); trial k gives the same result either way.  `owner` names this run to a second
    run that tries the same partition meanwhile (it is refused).  Returns the trials table rows written
    (one per trial, and the floor's).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log lines say more
    check_data_directory(home)  # before any training: writable, not nearly full
    if threads:
        torch.set_num_threads(threads)
    part.data = with_min_count(part.data, profile.min_count)
    if profile.embeddings is not None and part.data.vectors is None:
        attach_vectors(part, profile, log, home)
    identity = study_identity(part, profile)
    unseen = unseen_classes(part.data)
    if unseen:
        log(f"WARNING {part.key} classes: {unseen} (study health flags it)")
    url = storage_url_of(home, hypothesis, part.key, storage_url)
    log(f"{part.key}: Optuna studies in {without_password(url)}")
    lenders = find_lenders(part, profile, hypothesis, identity, home, storage_url)
    search = Search(
        part,
        profile,
        hypothesis,
        home,
        identity,
        url,
        lent_files(home.trial_files(hypothesis, part.key, identity.id), lenders),
        conditions(hypothesis, profile, part.available_families()),
        log,
        lenders,
    )
    with partition_held(home, hypothesis, part.key, owner), stops_said_plainly(home, url):
        # steps that start together share the free worker slots: say early that this one will want some
        with nullcontext(announced) if announced is not None else StepWaiting(home) as announced:
            inputs, opened = search.open_studies(on_changed_inputs)
            jobs = sum(remaining for _, remaining in opened.values())
            wanted = _workers_wanted(max(jobs, len(search.conditions) * profile.replicates), log)
            with trial_workers(home, wanted, log=log, announced=announced) as workers:
                search.run_trials(opened, workers, threads)
                studies = {name: study for name, (study, _) in opened.items()}
                jobs = search.replicate_jobs(studies)
                search.run_replicates(jobs, workers, threads)
        floor = partition_floor(part, profile.seed, log)
        trials = write_results(
            part, hypothesis, search.conditions, studies, search.files, home, log, floor, inputs, profile, jobs
        )
        keep_models(search, trials, studies)
    return trials


FULL_DISK_SIGNS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _says_disk_full(exc: BaseException) -> bool:
    """Whether an error, or one it arose from (a worker's included), is a full disk."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(sign in str(exc).lower() for sign in FULL_DISK_SIGNS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def stops_said_plainly(home: Home, url: str) -> Iterator[None]:
    """A full disk met anywhere in the search (Optuna's SQLite file, a trial's files, the results), or a study
    storage server that stayed away longer than its retries, becomes one clear error naming the folder or
    the server, whatever library it surfaced in.  Nothing is half-written: finished trials are in the study,
    a trial cut off is re-run as itself, every file is written whole or not at all."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        folders = [home.root]
        if url.startswith("sqlite:///"):
            folders.insert(0, Path(url.removeprefix("sqlite:///")).parent)
        full = [f for f in folders if f.exists() and shutil.disk_usage(f).free < NEARLY_FULL_BYTES]
        if _says_disk_full(exc) or full:
            where = (full or folders)[0]
            raise InputError(
                f"the disk is full at {where} ({shutil.disk_usage(where).free / 2**20:.1f} MiB free): the search "
                f"stopped ({type(exc).__name__})",
                where,
                hint="free some space or move HANROCK_HOME to a larger disk, then run the same command again: "
                "finished trials are kept and only the missing ones run",
            ) from exc
        cause = connection_error(exc) if not url.startswith("sqlite:") else None  # a server, not a file
        if cause is None:
            raise
        said = (str(getattr(cause, "orig", None) or cause).strip().splitlines() or ["no message"])[0][:200]
        raise InputError(
            f"the study storage did not answer for {SERVER_OUTAGE_S} s ({said}): the search stopped",
            hint="once the database answers again, run the same command: finished trials are kept and only the "
            "missing ones run",
        ) from exc


NEARLY_FULL_BYTES = 1 << 20  # an unexplained failure with less free than this is the full disk's doing


def keep_models(search: Search, trials: pd.DataFrame, studies: dict[str, optuna.Study]) -> pd.DataFrame:
    """The search is over: each condition's selected trial (with its seeds) becomes a kept model under
    $HANROCK_HOME/models."""
    part, identity, profile = search.part, search.identity, search.profile
    provenance = {
        "identity": {"id": identity.id, "parts": identity.parts},
        "profile": {"name": profile.name, "content": identity.parts["profile"]},
    }
    return keep_selected_models(
        part.data,
        part.narrative,
        part.norms,
        part.vectors.describe() if part.vectors else None,
        search.hypothesis,
        part.dataset,
        part.task,
        trials[trials["condition"] != FLOOR],
        studies,
        search.files,
        search.home,
        search.log,
        provenance,
        profile.replicates,
        {name: lender.kept_model for name, lender in search.lenders.items()},
    )


def attach_vectors(part: PartitionData, profile: Profile, log: Log, home: Home | None = None) -> Vectors:
    """The profile's word vectors for the partition's vocabulary: a pretrained file (its width must be
    embedding_dim) or vectors learnt from the train split's text (cached under `home`)."""
    spec = profile.embeddings
    if spec.learn:
        cache = home.word_vectors_cache if home is not None else None
        vectors = corpus_vectors(spec, part.data, profile.embedding_dim, profile.seed, cache)
    else:
        vectors = load_vectors(spec, part.data.vocab, part.data.train_token_counts(), profile.seed)
    if vectors.width != profile.embedding_dim:
        raise InputError(
            f"the word vectors are {vectors.width}-d but the profile's embedding_dim is {profile.embedding_dim}",
            spec.path,
            hint=f"set embedding_dim: {vectors.width} in the profile (the paper: 300 for GloVe 300d)",
        )
    part.data.vectors = vectors.matrix
    part.vectors = vectors
    log(f"{part.dataset}.{part.task} word vectors: {vectors.describe()}")
    return vectors


__all__ = ["PartitionData", "Search", "attach_vectors", "run_hypothesis"]
