"""Random search with median stopping (appendix A.3) for every condition of a hypothesis.

One Optuna study per condition and identity (hanrock_core/study_identity.py: a fingerprint of the
profile, narratives, targets, data and code), stored persistently, so a killed run resumes where it
stopped and never repeats a finished trial, and a run on other inputs never resumes it.  Trial k of
every condition is slot k: its hyper-parameters, seed and loss weights depend on (seed, k) only,
and an interrupted slot is run again as itself.  Trial results are then written to the results
database in one transaction per table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc
import torch

from .auxiliary_target import AuxiliaryTargets
from .errors import InputError
from .floor import CONDITION as FLOOR
from .floor import FloorResult, fit_floor
from .io import write_parquet_atomic
from .loss_weight import SCHEMES, assign_loss_weights
from .median_stopping import OrderedMedianPruner, TrialNumberSampler, slot_of
from .metrics import default_metric
from .settings import check_data_directory
from .staged_results import staged_only, write_rows
from .study import Condition, Profile, conditions
from .replicates import replicate_jobs, run_replicates, train_missing
from .study_health import chance_levels
from .study_identity import StudyIdentity, base_of, study_identity
from .study_identity import study_name as identified_name
from .trained_model import could_be_selected, keep_selected_models, keep_trial_state, selected_trials
from .training import TaskData, TrainConfig, TrainingDiverged, build_task_data, train
from .word_vectors import Vectors, load_vectors
from .worker_slots import StepWaiting, trial_workers

Log = Callable[[str], None]


@dataclass
class PartitionData:
    """Everything one dataset.task partition trains on."""

    dataset: str
    task: str
    data: TaskData
    mi: pd.Series  # auxiliary task -> MI
    family: dict[str, str]  # auxiliary task -> family
    vectors: Vectors | None = None  # pretrained word vectors in use, with their coverage
    narrative: tuple[str, str] = ("vpa", "")  # how the model inputs were built: family, kept punctuation

    @classmethod
    def build(cls, dataset: str, task: str, table: pd.DataFrame, model_inputs: pd.Series,
              targets: AuxiliaryTargets, mi: pd.DataFrame, metric: str | None = None,
              narrative: tuple[str, str] = ("vpa", "")) -> "PartitionData":
        return cls(dataset, task, build_task_data(table, model_inputs, targets, metric=metric),
                   mi.set_index("task")["mi"].reindex(targets.tasks).fillna(0.0), dict(targets.family),
                   narrative=narrative)

    def available_families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.family.values()))


def study_storage(storage_dir: Path, hypothesis: str, dataset: str, task: str, url: str | None = None) -> str:
    """An RDB URL from config, else one SQLite file per hypothesis x partition."""
    if url:
        return url
    path = storage_dir / hypothesis / f"{dataset}.{task}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _without_password(url: str) -> str:
    """A storage URL fit for a log line."""
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


def open_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """The study storage, opened once per run.

    A new database is initialised by whoever opens it first; another process opening it at the
    same moment (a second worker, a dashboard, a test polling the file) makes that
    initialisation fail ("table ... already exists", a duplicate version row), after which the
    schema is there: open again.  Any other failure is raised by the last attempt.
    """
    for attempt in range(1, attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            time.sleep(0.2 * attempt)
    return optuna.storages.RDBStorage(url)  # the last attempt raises what it meets


def trial_seed(profile: Profile, slot: int) -> int:
    """The training seed of trial slot `slot`: paired across conditions, and reproducible from the results table."""
    return profile.seed * 100_003 + slot




def sample_config(trial: optuna.Trial, profile: Profile, condition: Condition, hypothesis: str) -> TrainConfig:
    """One point of the Table 6 space (narrowed by the profile); the condition fixes what it tests."""
    space = profile.space
    content = trial.suggest_int("content_size", *space.get("content_size", (1, 30)))
    lo, hi = space.get("batch_size", (32, 256))
    batch = trial.suggest_int("batch_size", lo, max(lo, min(hi, 1024 // (content + 1))))
    l2_lo, l2_hi = space.get("l2", (0.0, 0.5))
    l2 = 0.0 if l2_hi <= 0 or trial.suggest_categorical("l2_zero", [True, False]) else \
        trial.suggest_float("l2_value", max(l2_lo, 1e-7), l2_hi, log=True)
    if hypothesis == "h2":
        p, a = condition.primary_units, condition.aux_units
    else:
        p = trial.suggest_categorical("primary_units", list(profile.space.get("primary_units", profile.h2_primary_units)))
        a = profile.capacity_total - p if condition.aux_units > 0 else 0
    return TrainConfig(
        architecture=condition.architecture, primary_units=p, aux_units=a,
        capacity_total=profile.capacity_total if a > 0 else None,
        learning_rate=trial.suggest_float("learning_rate", *space.get("learning_rate", (2 ** -10, 2 ** -5)), log=True),
        batch_size=batch, content_size=content, l2=l2,
        dropout=trial.suggest_float("dropout", *space.get("dropout", (0.01, 0.5))),
        recurrent_dropout=trial.suggest_float("recurrent_dropout", *space.get("recurrent_dropout", (0.01, 0.5))),
        seed=trial_seed(profile, slot_of(trial)), **profile.fixed_training(),
    )


def loss_weights_for(trial: optuna.Trial, profile: Profile, part: PartitionData, condition: Condition) -> tuple[np.ndarray, str, float]:
    """Primary weight from the profile's range, the rest by this trial's scheme over switched-on tasks."""
    slot = slot_of(trial)
    scheme = SCHEMES[slot % len(SCHEMES)]  # equal numbers of trials per scheme
    primary = trial.suggest_float("primary_weight", *profile.space.get("primary_weight", (0.5, 0.99)))
    active = [t for t, f in part.family.items() if f in condition.families] if condition.aux_units > 0 else []
    rng = np.random.default_rng([profile.seed, slot])
    weights = assign_loss_weights(primary, scheme, part.mi, active, rng)
    return weights.to_numpy(), scheme, primary


class Objective:
    """Trains one trial; reports dev metrics per epoch to the pruner; records everything on the trial."""

    def __init__(self, part: PartitionData, profile: Profile, hypothesis: str, condition: Condition,
                 files: "TrialFiles", log: Log):
        self.part, self.profile, self.hypothesis, self.condition = part, profile, hypothesis, condition
        self.files, self.log = files, log
        self.metric, self.higher_better = part.data.selection

    def __call__(self, trial: optuna.Trial) -> float:
        config = sample_config(trial, self.profile, self.condition, self.hypothesis)
        weights, scheme, primary = loss_weights_for(trial, self.profile, self.part, self.condition)
        trial.set_user_attr("weight_scheme", scheme)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # which host and process ran it
        trial.set_user_attr("config", {k: v for k, v in config.__dict__.items()})
        trial.set_user_attr("loss_weights", dict(zip(["primary", *self.part.mi.index], map(float, weights))))
        history: list[dict] = []
        slot = slot_of(trial)
        tag = f"{self.hypothesis} {self.part.dataset}.{self.part.task} {self.condition.name} trial {slot}"
        started = time.perf_counter()

        pruned = False

        def on_epoch(epoch: int, record: dict) -> bool:
            nonlocal pruned
            history.append(record)
            value = record[f"dev_{self.metric}"]
            trial.report(value, epoch)
            pruned = trial.should_prune()
            self.log(f"{tag} epoch {epoch}: dev {self.metric} {value:.4f}{' -> pruned' if pruned else ''}")
            return pruned  # training stops after this epoch and returns its best epoch so far

        try:
            result = train(self.part.data, config, weights, on_epoch=on_epoch)
        except TrainingDiverged as exc:
            trial.set_user_attr("reason", str(exc))
            self._record(trial, history, started)
            self.log(f"{tag} failed: {exc}")
            raise
        except RuntimeError as exc:  # out of memory and the like: the study goes on
            trial.set_user_attr("reason", f"{type(exc).__name__}: {exc}"[:500])
            self._record(trial, history, started)
            self.log(f"{tag} failed: {exc}")
            raise
        trial.set_user_attr("stopped", "pruned" if pruned else result.stopped)
        self._record(trial, history, started)
        self._keep(trial, slot, result)
        if pruned:
            raise optuna.TrialPruned()
        return result.dev[self.metric]

    def _keep(self, trial: optuna.Trial, slot: int, result) -> None:
        """The trial's test predictions, and its chosen epoch's state while it may still be selected."""
        if result.test_predictions is not None:
            write_parquet_atomic(result.test_predictions, self.files.predictions / f"{self.condition.name}-{slot}.parquet")
        value = result.dev.get(self.metric)
        if value is not None and could_be_selected(trial.study, slot, value, self.metric, self.higher_better):
            keep_trial_state(self.files.states, self.condition.name, slot, result.state_dict)

    def _record(self, trial: optuna.Trial, history: list[dict], started: float) -> None:
        """Keep the epoch curve and the best epoch's metrics on the trial (pruned trials too)."""
        trial.set_user_attr("history", history)
        trial.set_user_attr("seconds", time.perf_counter() - started)
        if history:
            key = f"dev_{self.metric}"
            scores = [h[key] for h in history]
            best = int(np.argmax(scores) if self.higher_better else np.argmin(scores))
            trial.set_user_attr("best_epoch", best + 1)
            trial.set_user_attr("dev", {k[4:]: v for k, v in history[best].items() if k.startswith("dev_")})
            trial.set_user_attr("test", {k[5:]: v for k, v in history[best].items() if k.startswith("test_")})


@dataclass(frozen=True)
class TrialFiles:
    """Where the trials of one partition's studies (one identity) keep their test predictions, and their
    chosen-epoch states until the search is over."""

    predictions: Path
    states: Path
    replicates: Path

    @classmethod
    def of(cls, storage_dir: Path, hypothesis: str, dataset: str, task: str, identity: StudyIdentity) -> "TrialFiles":
        stem = Path(storage_dir) / hypothesis / f"{dataset}.{task}"
        return cls(*(stem.with_name(f"{stem.name}.{kind}") / identity.id for kind in ("predictions", "states", "replicates")))


def _interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    """Failed without a reason of its own: cut off by a killed run (every real failure records one)."""
    return trial.state == optuna.trial.TrialState.FAIL and "reason" not in trial.user_attrs


def _finished(trial: optuna.trial.FrozenTrial) -> bool:
    """Complete, pruned, or failed for a reason of its own."""
    return trial.state.is_finished() and not _interrupted(trial)


def _fail_interrupted(study: optuna.Study) -> None:
    """Trials left RUNNING by a killed run are marked failed (interrupted) and not counted."""
    for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def study_base(part: PartitionData, hypothesis: str, condition: Condition) -> str:
    """A condition's study name without its identity; trials selected on another metric chose other
    epochs, so a non-default metric gets studies of its own (the paper's metric keeps the plain name)."""
    metric, _ = part.data.selection
    suffix = "" if metric == default_metric(part.data.classification) else f"@{metric}"
    return f"{hypothesis}.{part.dataset}.{part.task}.{condition.name}{suffix}"


def study_name(part: PartitionData, hypothesis: str, condition: Condition, identity: StudyIdentity) -> str:
    """The Optuna study of a condition trained on these inputs."""
    return identified_name(study_base(part, hypothesis, condition), identity)


def condition_study(part: PartitionData, profile: Profile, hypothesis: str, condition: Condition,
                    identity: StudyIdentity, storage: optuna.storages.RDBStorage, log: Log = print) -> optuna.Study:
    """The condition's study of these inputs, created or resumed, with the sampler and pruner that make
    trial k the same whoever runs it (hanrock_core/median_stopping.py)."""
    _, higher_better = part.data.selection
    pruning = profile.median_pruning
    return optuna.create_study(
        study_name=study_name(part, hypothesis, condition, identity), storage=storage, load_if_exists=True,
        direction="maximize" if higher_better else "minimize",
        sampler=TrialNumberSampler(seed=profile.seed * 7919),
        pruner=OrderedMedianPruner(pruning.get("first_epoch", 5), pruning.get("every", 2), log),
    )


def _queue_missing_slots(study: optuna.Study, storage: optuna.storages.RDBStorage, slots: int) -> tuple[int, int]:
    """Queue every slot below `slots` without a finished or queued trial, each with its own number.

    The queue runs lowest number first and the median pruner of slot k + 1 waits for slot k, so
    slots must be queued in order: when a killed run left slot k + 1 queued but slot k interrupted,
    the queued trials are withdrawn (marked failed without a reason, so never counted, and
    `withdrawn`) and every missing slot is queued again, lowest first.  Returns (queued, finished).
    """
    done = {slot_of(t) for t in study.get_trials(deepcopy=False) if _finished(t)}
    waiting = {slot_of(t): t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))}
    missing = [slot for slot in range(slots) if slot not in done and slot not in waiting]
    if missing and any(slot > missing[0] for slot in waiting):
        for trial in waiting.values():
            storage.set_trial_user_attr(trial._trial_id, "withdrawn", True)  # noqa: SLF001
            storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)  # noqa: SLF001
        waiting = {}
        missing = [slot for slot in range(slots) if slot not in done]
    for slot in missing:
        study.enqueue_trial({}, user_attrs={"slot": slot})  # slot k runs with slot k's configuration
    queued = len([slot for slot in range(slots) if slot not in done])
    return queued, slots - queued


def open_condition(part: PartitionData, profile: Profile, hypothesis: str, condition: Condition,
                   identity: StudyIdentity, storage: optuna.storages.RDBStorage, log: Log) -> tuple[optuna.Study, int]:
    """The condition's study (interrupted trials marked failed, each missing slot queued with its own
    number) and how many trials it still needs."""
    study = condition_study(part, profile, hypothesis, condition, identity, storage, log)
    _record_identity(study, identity, profile, hypothesis, part)
    _fail_interrupted(study)
    remaining, finished = _queue_missing_slots(study, storage, profile.trials_per_condition)
    if remaining:
        log(f"{study.study_name}: running {remaining} of {profile.trials_per_condition} trials ({finished} finished before)")
    else:
        log(f"{study.study_name}: all {profile.trials_per_condition} trials already finished")
    return study, remaining


def _record_identity(study: optuna.Study, identity: StudyIdentity, profile: Profile, hypothesis: str,
                     part: PartitionData) -> None:
    """What the study was trained on, stored with it; `opened_at` says which inputs a partition used last."""
    if "identity" not in study.user_attrs:
        for key, value in {"identity": identity.id, "identity_parts": identity.parts, "profile": profile.name,
                           "hypothesis": hypothesis, "dataset": part.dataset, "task": part.task}.items():
            study.set_user_attr(key, value)
    study.set_user_attr("opened_at", _now())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


ON_CHANGED_INPUTS = ("new_study", "refuse")


@dataclass(frozen=True)
class InputsCheck:
    """How this run's inputs compare with the studies a partition used last."""

    identity: StudyIdentity
    previous: str | None = None  # the identity of the studies the partition used last, when it is another
    differs: tuple[str, ...] = ()  # which parts differ from those
    returning: bool = False  # studies of these very inputs exist (an older run): they are resumed

    def describe(self) -> str:
        if self.previous is None:
            return f"inputs {self.identity.id}"
        verb = "returning to the studies of" if self.returning else "new studies for"
        return f"{verb} inputs {self.identity.id}; {', '.join(self.differs)} differ from {self.previous}, now superseded"


def check_inputs(storage: optuna.storages.RDBStorage, bases: list[str], identity: StudyIdentity,
                 on_changed: str = "new_study") -> InputsCheck:
    """Compare the inputs with the partition's most recently used stored studies of these names.

    Never resumes a study of other inputs: by default its studies are left as they are (superseded)
    and new ones start; `on_changed="refuse"` stops with what differs instead.
    """
    if on_changed not in ON_CHANGED_INPUTS:
        raise InputError(f"on_changed_inputs must be one of {list(ON_CHANGED_INPUTS)}, not {on_changed!r}")
    ours, others = "", []
    for study in storage.get_all_studies():
        if base_of(study.study_name) not in bases:
            continue
        opened = str(study.user_attrs.get("opened_at", ""))
        if study.user_attrs.get("identity") == identity.id:
            ours = max(ours, opened)
        else:
            others.append((opened, study))
    if not others:
        return InputsCheck(identity)
    opened, latest = max(others, key=lambda pair: pair[0])
    if ours and ours >= opened:
        return InputsCheck(identity)  # these inputs were used last: nothing changed since
    previous = str(latest.user_attrs.get("identity", "(recorded before studies had identities)"))
    differs = tuple(identity.differs(latest.user_attrs.get("identity_parts")))
    if on_changed == "refuse":
        raise InputError(f"the stored studies {latest.study_name} were trained on other inputs ({', '.join(differs)} "
                         f"differ) and this run refuses to start new ones (on_changed_inputs: refuse)",
                         hint="restore the inputs they were trained on, or run with on_changed_inputs: new_study to "
                              "start new studies (the old ones stay queryable: hanrock results superseded)")
    return InputsCheck(identity, previous, differs, returning=bool(ours))


def run_trials(study: optuna.Study, objective: "Objective", n: int) -> None:
    """Run `n` trials of a study here; a diverging or out-of-memory trial is recorded and the study goes on."""
    study.optimize(objective, n_trials=n, catch=(TrainingDiverged, RuntimeError), gc_after_trial=False)


# ---- trials of a partition in worker processes (the same results as in one process)

_WORKER: dict = {}


def _die_with_parent() -> None:
    """Linux: a worker gets SIGKILL when its training step dies, so no orphan writes to the study."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(part, profile, hypothesis, identity, url, files, threads, queue) -> None:
    _die_with_parent()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if threads:
        torch.set_num_threads(threads)
    _WORKER.update(part=part, profile=profile, hypothesis=hypothesis, identity=identity, storage=open_storage(url),
                   files=files, log=queue.put)


def _trial_job(condition: Condition) -> None:
    """One trial of `condition` in a worker process."""
    w = _WORKER
    study = condition_study(w["part"], w["profile"], w["hypothesis"], condition, w["identity"], w["storage"], w["log"])
    run_trials(study, Objective(w["part"], w["profile"], w["hypothesis"], condition, w["files"], w["log"]), 1)


def run_in_workers(jobs: list[Condition], workers: int, part: PartitionData, profile: Profile, hypothesis: str,
                   identity: StudyIdentity, url: str, files: TrialFiles, threads: int | None, log: Log) -> None:
    """Run one trial per job in `workers` processes; their log lines reach `log` as they come."""
    import multiprocessing
    import queue as queues
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")
    lines = context.Manager().Queue()
    threads = threads or torch.get_num_threads()  # as here: the same arithmetic, so the same results
    log(f"{part.dataset}.{part.task}: {len(jobs)} trials on {workers} workers")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(part, profile, hypothesis, identity, url, files, threads, lines)) as pool:
        pending = {pool.submit(_trial_job, condition) for condition in jobs}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while True:
                try:
                    log(lines.get_nowait())
                except queues.Empty:
                    break
            for future in done:
                future.result()  # a worker's error (bad input, a bug) stops the step with its message


def _init_replicate_worker(data, threads) -> None:
    _die_with_parent()
    if threads:
        torch.set_num_threads(threads)
    _WORKER.update(data=data)


def _replicate_job(job) -> None:
    train_missing(_WORKER["data"], [job], lambda m: None)


def run_replicates_in_workers(jobs: list, workers: int, part: PartitionData, threads: int | None, log: Log) -> None:
    """Train seed replicates in `workers` processes (each writes its file; the same results as one process)."""
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    threads = threads or torch.get_num_threads()
    log(f"{part.dataset}.{part.task}: {len(jobs)} seed replicates on {workers} workers")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_replicate_worker,
                             initargs=(part.data, threads)) as pool:
        for _ in pool.map(_replicate_job, jobs):
            pass


def run_hypothesis(part: PartitionData, profile: Profile, hypothesis: str, storage_dir: Path, results_db: Path,
                   log: Log = print, storage_url: str | None = None, threads: int | None = None,
                   announced: StepWaiting | None = None, on_changed_inputs: str = "new_study") -> pd.DataFrame:
    """Search every condition of `hypothesis` on one partition, fit its bag-of-words floor, write the rows.

    The studies are those of this run's inputs (its identity); studies of other inputs are never
    resumed (`on_changed_inputs`: start new ones, or refuse).  The remaining trials of all
    conditions run in as many worker processes as the machine has free worker slots
    (hanrock_core/worker_slots.py); trial k gives the same result either way.
    Returns the trials table rows written (one per trial, and the floor's).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own log lines say more
    check_data_directory(storage_dir.parent)  # before any training: writable, not nearly full
    if threads:
        torch.set_num_threads(threads)
    if profile.embeddings is not None and part.data.vectors is None:
        attach_vectors(part, profile, log)
    identity = study_identity(part, profile)
    # steps that start together share the free worker slots: say early that this one will want some
    with nullcontext(announced) if announced is not None else StepWaiting(storage_dir.parent) as announced:
        url = study_storage(storage_dir, hypothesis, part.dataset, part.task, storage_url)
        log(f"{part.dataset}.{part.task}: Optuna studies in {_without_password(url)}")
        storage = open_storage(url)
        files = TrialFiles.of(storage_dir, hypothesis, part.dataset, part.task, identity)
        conds = conditions(hypothesis, profile, part.available_families())
        inputs = check_inputs(storage, [study_base(part, hypothesis, c) for c in conds], identity, on_changed_inputs)
        log(f"{hypothesis} {part.dataset}.{part.task}: {inputs.describe()}"
            + (" (hanrock results superseded lists the old ones)" if inputs.previous else ""))
        opened = {c.name: open_condition(part, profile, hypothesis, c, identity, storage, log) for c in conds}
        jobs = [c for c in conds for _ in range(opened[c.name][1])]
        wanted = max(len(jobs), len(conds) * profile.replicates)
        if wanted > 1 and multiprocessing.current_process().daemon:  # it may not start processes of its own
            log("this step runs in a daemonic process (a Celery worker's pool): its trials run one at a time in it; "
                "start more Celery workers for more parallel steps")
            wanted = 1
        with trial_workers(storage_dir.parent, wanted, log=log, announced=announced) as workers:
            if workers > 1 and len(jobs) > 1:
                run_in_workers(jobs, workers, part, profile, hypothesis, identity, url, files, threads, log)
            else:
                for c in conds:
                    study, remaining = opened[c.name]
                    if remaining:
                        run_trials(study, Objective(part, profile, hypothesis, c, files, log), remaining)
            studies = {name: study for name, (study, _) in opened.items()}
            searched = pd.DataFrame(searched_rows(part, hypothesis, conds, studies, profile, {}))
            pending = [j for j in replicate_jobs(studies, searched, profile.replicates, files.replicates) if not j.file.exists()]
            if workers > 1 and len(pending) > 1:
                run_replicates_in_workers(pending, workers, part, threads, log)
            else:
                train_missing(part.data, pending, log)
    floor = partition_floor(part, profile.seed, log)
    trials = write_results(part, hypothesis, conds, studies, files, results_db, log, floor, inputs, profile)
    keep_models(part, hypothesis, trials, studies, files, storage_dir, inputs.identity, profile, log)
    return trials


def keep_models(part: PartitionData, hypothesis: str, trials: pd.DataFrame, studies: dict[str, optuna.Study],
                files: TrialFiles, storage_dir: Path, identity: StudyIdentity, profile: Profile, log: Log) -> pd.DataFrame:
    """The search is over: each condition's selected trial becomes a kept model under $HANROCK_HOME/models."""
    provenance = {"identity": {"id": identity.id, "parts": identity.parts},
                  "profile": {"name": profile.name, "content": identity.parts["profile"]}}
    return keep_selected_models(part.data, part.narrative, part.vectors.describe() if part.vectors else None,
                                hypothesis, part.dataset, part.task, trials[trials["condition"] != FLOOR], studies,
                                files.states, models_directory(storage_dir), log, provenance)


def models_directory(storage_dir: Path) -> Path:
    """$HANROCK_HOME/models: the kept models of every hypothesis (storage_dir is $HANROCK_HOME/studies)."""
    return storage_dir.parent / "models"


def attach_vectors(part: PartitionData, profile: Profile, log: Log) -> Vectors:
    """Load the profile's pretrained word vectors for the partition's vocabulary; their width must be embedding_dim."""
    vectors = load_vectors(profile.embeddings, part.data.vocab, part.data.train_token_counts(), profile.seed)
    if vectors.width != profile.embedding_dim:
        raise InputError(f"the word vectors are {vectors.width}-d but the profile's embedding_dim is "
                         f"{profile.embedding_dim}", profile.embeddings.path,
                         hint=f"set embedding_dim: {vectors.width} in the profile (the paper: 300 for GloVe 300d)")
    part.data.vectors = vectors.matrix
    part.vectors = vectors
    log(f"{part.dataset}.{part.task} word vectors: {vectors.describe()}")
    return vectors


def partition_floor(part: PartitionData, seed: int, log: Log) -> FloorResult:
    """The bag-of-words floor of the partition (seconds): TF-IDF + a linear model, C chosen on dev."""
    data = part.data
    labels = data.primary.numpy().astype(float)
    floor = fit_floor(data.texts, labels, data.split, data.classes, data.metric, seed)
    metric, _ = data.selection
    log(f"{part.dataset}.{part.task} bag-of-words floor (C = {floor.strength:g}): dev {metric} "
        f"{floor.dev[metric]:.4f}, test {floor.test[metric]:.4f}")
    return floor


def _floor_rows(floor: FloorResult, part: PartitionData, key: dict, metric: str) -> tuple[dict, pd.DataFrame]:
    """The floor as a one-trial condition of the trials table, and its test predictions."""
    row = {**key, "condition": FLOOR, "trial": 0, "state": "complete", "metric": metric,
           "dev_value": floor.dev[metric], "test_value": floor.test[metric], "l2": 1.0 / floor.strength,
           "loss_weights": json.dumps({}), "dev_metrics": json.dumps(floor.dev), "test_metrics": json.dumps(floor.test),
           "reason": f"TF-IDF + {'logistic' if part.data.classification else 'ridge'} regression, C = {floor.strength:g} "
                     "chosen on dev (not a neural model; not in the paper)"}
    predictions = floor.test_predictions.assign(utterance_id=part.data.utterance_ids[floor.test_predictions["row"]],
                                                **key, condition=FLOOR, trial=0).drop(columns="row")
    return row, predictions.astype({"truth": str, "prediction": str})


def _state(trial: optuna.trial.FrozenTrial) -> str:
    return {optuna.trial.TrialState.COMPLETE: "complete", optuna.trial.TrialState.PRUNED: "pruned"}.get(trial.state, "failed")


def slot_trials(study: optuna.Study, slots: int) -> dict[int, optuna.trial.FrozenTrial]:
    """Slot -> its finished trial, for the profile's slots 0..slots-1 (interrupted attempts left out)."""
    chosen: dict[int, optuna.trial.FrozenTrial] = {}
    for t in study.get_trials(deepcopy=False):
        slot = slot_of(t)
        if _finished(t) and slot < slots and slot not in chosen:
            chosen[slot] = t
    return dict(sorted(chosen.items()))


def _trial_row(t: optuna.trial.FrozenTrial, slot: int, key: dict, condition: str, metric: str) -> dict:
    """One row of the trials table."""
    cfg, dev, test = t.user_attrs.get("config", {}), t.user_attrs.get("dev", {}), t.user_attrs.get("test", {})
    weights = dict(t.user_attrs.get("loss_weights", {}))
    return {**key, "condition": condition, "trial": slot, "state": _state(t),
            "reason": t.user_attrs.get("reason"), "metric": metric, "best_epoch": t.user_attrs.get("best_epoch"),
            "dev_value": dev.get(metric), "test_value": test.get(metric),
            "learning_rate": cfg.get("learning_rate"), "batch_size": cfg.get("batch_size"),
            "primary_units": cfg.get("primary_units"), "aux_units": cfg.get("aux_units"), "l2": cfg.get("l2"),
            "content_size": cfg.get("content_size"), "dropout": cfg.get("dropout"),
            "recurrent_dropout": cfg.get("recurrent_dropout"), "weight_scheme": t.user_attrs.get("weight_scheme"),
            "primary_weight": weights.pop("primary", None), "loss_weights": json.dumps(weights),
            "dev_metrics": json.dumps(dev), "test_metrics": json.dumps(test),
            "epochs_run": len(t.user_attrs.get("history", [])), "seconds": t.user_attrs.get("seconds"),
            "attempt": t.number, "stopped": t.user_attrs.get("stopped")}


def searched_rows(part: PartitionData, hypothesis: str, conds: list[Condition], studies: dict[str, optuna.Study],
                  profile: Profile, key: dict) -> list[dict]:
    """One trials-table row per finished slot of every condition (the floor not included)."""
    metric, _ = part.data.selection
    return [_trial_row(t, slot, key, condition.name, metric) for condition in conds
            for slot, t in slot_trials(studies[condition.name], profile.trials_per_condition).items()]


def identity_row(key: dict, inputs: InputsCheck, profile: Profile) -> pd.DataFrame:
    """The `study_identities` row of a partition's studies: what they were trained on, and what changed."""
    return pd.DataFrame([{**key, "profile": profile.name, "parts": json.dumps(inputs.identity.parts),
                          "previous": inputs.previous, "differs": ", ".join(inputs.differs) or None,
                          "recorded_at": pd.Timestamp.now(tz="UTC").tz_localize(None)}])


def write_results(part: PartitionData, hypothesis: str, conds: list[Condition], studies: dict[str, optuna.Study],
                  files: TrialFiles, results_db: Path, log: Log, floor: FloorResult | None,
                  inputs: InputsCheck, profile: Profile) -> pd.DataFrame:
    """Replace this partition's rows of its identity in trials, epochs, predictions, chance levels and seed
    replicates (trained here first when the profile asks for them; one transaction per table; the floor is
    a row too), then record the identity as the partition's current one."""
    metric, _ = part.data.selection
    identity = inputs.identity.id
    key = {"hypothesis": hypothesis, "dataset": part.dataset, "task": part.task, "identity": identity}
    trial_rows, prediction_frames = searched_rows(part, hypothesis, conds, studies, profile, key), []
    epoch_rows = [{**key, "condition": condition.name, "trial": slot, "epoch": h["epoch"], "train_loss": h["train_loss"],
                   "dev_value": h.get(f"dev_{metric}"), "test_value": h.get(f"test_{metric}")}
                  for condition in conds
                  for slot, t in slot_trials(studies[condition.name], profile.trials_per_condition).items()
                  for h in t.user_attrs.get("history", [])]
    chosen = selected_trials(pd.DataFrame(trial_rows)) if trial_rows else {}
    for condition, number in chosen.items():
        file = files.predictions / f"{condition}-{number}.parquet"
        if file.exists():
            frame = pd.read_parquet(file).assign(**key, condition=condition, trial=number)
            prediction_frames.append(frame.astype({"truth": str, "prediction": str}))
    if floor is not None:
        row, predictions = _floor_rows(floor, part, key, metric)
        trial_rows.append(row)
        prediction_frames.append(predictions)
    trials = pd.DataFrame(trial_rows)
    replicates = run_replicates(part.data, studies, trials[trials["condition"] != FLOOR], profile.replicates,
                                files.replicates, key, log)
    write_rows(results_db, "all_trials", key, trials, log)
    write_rows(results_db, "all_epochs", key, pd.DataFrame(epoch_rows), log)
    write_rows(results_db, "all_predictions", key, pd.concat(prediction_frames) if prediction_frames else pd.DataFrame(), log)
    write_rows(results_db, "all_chance_levels", key, pd.DataFrame([{**key, **chance_levels(part.data)}]), log)
    write_rows(results_db, "all_replicates", key, replicates, log)
    write_rows(results_db, "study_identities", key, identity_row(key, inputs, profile), log)  # last: now current
    counts = trials.groupby(["condition", "state"]).size().to_dict() if len(trials) else {}
    where = "staged for the significance step" if staged_only() else f"to {results_db}"
    log(f"{hypothesis} {part.dataset}.{part.task}: wrote {len(trials)} trials ({counts}) of inputs {identity} {where}")
    return trials


__all__ = ["PartitionData", "run_hypothesis", "write_results"]
